"""The churn propensity models on Spark MLlib: a gradient-boosted tree (the default) and
a logistic regression on standardized features (the baseline), their scores, metrics
and curves computed in Spark (the driver sees a few numbers per model), Platt or
isotonic calibration on the validation date, and feature importances."""
from __future__ import annotations

import dataclasses
import math

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.regression import IsotonicRegression, IsotonicRegressionModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MODELS = ("gbt", "logistic")
LABEL, WEIGHT, SCORE = "churned", "weight", "churn_probability"
_EPSILON = 1e-6


def pipeline(kind: str, features: list[str], seed: int = 42) -> Pipeline:
    """Assembler, then the model; the logistic model's features standardized, so its
    coefficients are comparable importances."""
    assemble = VectorAssembler(inputCols=features, outputCol="features", handleInvalid="keep")
    if kind == "gbt":
        # Each boosting round is a Spark job per tree level: 20 rounds of depth 5 keep
        # the job count (the cost on small data) down at the accuracy of 40 of depth 4.
        return Pipeline(stages=[assemble, GBTClassifier(
            labelCol=LABEL, weightCol=WEIGHT, maxIter=20, maxDepth=5, stepSize=0.2, seed=seed)])
    scale = StandardScaler(inputCol="features", outputCol="scaled", withMean=True, withStd=True)
    return Pipeline(stages=[assemble, scale, LogisticRegression(
        labelCol=LABEL, weightCol=WEIGHT, featuresCol="scaled", maxIter=50, regParam=0.001)])


ROWS_PER_PARTITION = 100_000


def train(training: DataFrame, kind: str, features: list[str], seed: int = 42,
          rows: int | None = None) -> PipelineModel:
    """Fits the pipeline; given the row count, on one partition per 100,000 rows, as
    every boosting or optimiser round is a job whose tasks cost more than tiny
    partitions' rows do."""
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}")  # checked in the config first
    if rows is not None:
        training = training.coalesce(max(1, math.ceil(rows / ROWS_PER_PARTITION)))
    return pipeline(kind, features, seed).fit(training)


def score(model: PipelineModel, rows: DataFrame) -> DataFrame:
    """`rows` with `churn_probability`: the model's probability of the churned class."""
    predicted = model.transform(rows)
    probability = vector_to_array("probability")[1]
    return predicted.withColumn(SCORE, probability).drop(
        "features", "scaled", "rawPrediction", "probability", "prediction")


def importances(model: PipelineModel, kind: str, features: list[str]) -> dict[str, float]:
    """GBT's feature importances, or the logistic model's standardized coefficients."""
    fitted = model.stages[-1]
    values = (fitted.featureImportances.toArray() if kind == "gbt"
              else fitted.coefficients.toArray())
    return {name: float(value) for name, value in zip(features, values)}


def metrics(scored: DataFrame, probability: str = SCORE) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier score, log loss, the top decile's lift and share of
    churners captured, and the mean predicted and observed rates."""
    p = F.least(F.greatest(F.col("p"), F.lit(_EPSILON)), F.lit(1 - _EPSILON))
    y = F.col(LABEL)
    ready = scored.select(y.cast("double").alias(LABEL), F.col(probability).alias("p"))
    evaluate = BinaryClassificationEvaluator(labelCol=LABEL, rawPredictionCol="p")
    cutoff = ready.approxQuantile("p", [0.9], 0.001)[0]  # the top decile's lower bound
    summary = ready.agg(
        F.avg((F.col("p") - F.col(LABEL)) ** 2).alias("brier"),
        F.avg(-(F.col(LABEL) * F.log(p) + (1 - F.col(LABEL)) * F.log(1 - p))).alias("log_loss"),
        F.avg(LABEL).alias("observed_rate"), F.avg("p").alias("mean_predicted"),
        F.sum(LABEL).alias("churners"),
        F.sum(F.when(F.col("p") >= cutoff, F.col(LABEL))).alias("top_churners"),
        F.count(F.when(F.col("p") >= cutoff, 1)).alias("top_rows")).first()  # one row
    top_rate = summary.top_churners / summary.top_rows if summary.top_rows else math.nan
    return {
        "roc_auc": evaluate.setMetricName("areaUnderROC").evaluate(ready),
        "pr_auc": evaluate.setMetricName("areaUnderPR").evaluate(ready),
        "brier": summary.brier, "log_loss": summary.log_loss,
        "observed_rate": summary.observed_rate, "mean_predicted": summary.mean_predicted,
        "top_decile_lift": top_rate / summary.observed_rate if summary.observed_rate else math.nan,
        "top_decile_capture": (summary.top_churners / summary.churners
                               if summary.churners else math.nan),
    }


def calibration_table(scored: DataFrame, probability: str = SCORE) -> list[tuple]:
    """(mean predicted, observed rate, rows) for 10 equal-width probability bins."""
    bucket = F.least(F.floor(F.col(probability) * 10), F.lit(9)).cast("int")
    rows = (scored.groupBy(bucket.alias("bin"))
            .agg(F.count(F.lit(1)).alias("rows"), F.avg(probability).alias("predicted"),
                 F.avg(LABEL).alias("observed"))
            .orderBy("bin").collect())  # ten rows
    return [(row.predicted, float(row.observed), row.rows) for row in rows]


def roc_points(scored: DataFrame, probability: str = SCORE, bins: int = 200) -> list[tuple]:
    """(false positive rate, true positive rate, rows at or above the threshold) at
    `bins` equal-width thresholds, from the counts per score bin (bins + 1 rows)."""
    bucket = F.least(F.floor(F.col(probability) * bins), F.lit(bins)).cast("int")
    counts = (scored.groupBy(bucket.alias("bin"))
              .agg(F.sum(LABEL).alias("churned"), F.count(F.lit(1)).alias("rows"))
              .orderBy(F.desc("bin")).collect())  # at most bins + 1 rows
    positives = sum(row.churned for row in counts)
    negatives = sum(row.rows for row in counts) - positives
    points, tp, rows = [(0.0, 0.0, 0)], 0, 0
    for row in counts:
        tp, rows = tp + row.churned, rows + row.rows
        points.append(((rows - tp) / negatives if negatives else 0.0,
                       tp / positives if positives else 0.0, rows))
    return points


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Maps a model's probabilities to calibrated ones, fitted on the validation date."""
    method: str                          # platt | isotonic | none
    slope: float = 1.0                   # platt: sigmoid(slope logit(p) + intercept)
    intercept: float = 0.0
    isotonic: IsotonicRegressionModel | None = None

    def apply(self, scored: DataFrame, probability: str = SCORE) -> DataFrame:
        if self.method == "platt":
            return calibrated(scored, self.slope, self.intercept, probability)
        if self.method == "isotonic":
            return (self.isotonic.setFeaturesCol(probability).setPredictionCol("_calibrated")
                    .transform(scored)
                    .withColumn(probability, F.col("_calibrated")).drop("_calibrated"))
        return scored


def calibration(validation: DataFrame, method: str, probability: str = SCORE) -> Calibration:
    """Platt scaling or an isotonic fit of the label on the probability (weights of
    sampled rows included), so that the mean predicted rate matches the observed one."""
    if method == "platt":
        return Calibration(method, *platt(validation, probability))
    if method == "isotonic":
        fitted = IsotonicRegression(featuresCol=probability, labelCol=LABEL,
                                    isotonic=True).fit(
            validation.withColumn(LABEL, F.col(LABEL).cast("double")))
        return Calibration(method, isotonic=fitted)
    return Calibration("none")


def platt(validation: DataFrame, probability: str = SCORE) -> tuple[float, float]:
    """Platt scaling fitted on the validation date: p' = sigmoid(a logit(p) + b), which
    brings the mean predicted rate to the observed one."""
    p = F.least(F.greatest(F.col(probability), F.lit(_EPSILON)), F.lit(1 - _EPSILON))
    logit = F.log(p / (1 - p))
    rows = validation.select(logit.alias("logit"), F.col(LABEL).cast("double").alias(LABEL))
    assembled = VectorAssembler(inputCols=["logit"], outputCol="features").transform(rows)
    fitted = LogisticRegression(labelCol=LABEL, maxIter=100, regParam=0.0).fit(assembled)
    return float(fitted.coefficients[0]), float(fitted.intercept)


def calibrated(scored: DataFrame, slope: float, intercept: float,
               probability: str = SCORE) -> DataFrame:
    p = F.least(F.greatest(F.col(probability), F.lit(_EPSILON)), F.lit(1 - _EPSILON))
    logit = F.log(p / (1 - p))
    return scored.withColumn(probability, 1 / (1 + F.exp(-(F.lit(slope) * logit
                                                          + F.lit(intercept)))))
