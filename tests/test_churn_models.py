"""The MLlib churn models on a planted signal, and the metrics against hand-computed
values."""
import math

import pytest
from pyspark.sql import functions as F

from rfm_spark.churn import models

FEATURES = ["planted", "noise_a", "noise_b"]


def uniform(seed, *columns):
    bits = F.xxhash64(F.lit(seed), *columns)
    return bits.bitwiseAND(F.lit((1 << 53) - 1)).cast("double") / float(1 << 53)


@pytest.fixture(scope="module")
def planted(spark):
    """4,000 rows: churn odds rise with `planted` only."""
    rows = spark.range(4000).select(
        (uniform(1, "id") * 4 - 2).alias("planted"), (uniform(2, "id") * 4 - 2).alias("noise_a"),
        (uniform(3, "id") * 4 - 2).alias("noise_b"), uniform(4, "id").alias("draw"),
        (F.col("id") % 4 == 0).alias("is_validation"))
    chance = 1 / (1 + F.exp(-2.5 * F.col("planted")))
    return rows.select("*", (F.col("draw") < chance).cast("int").alias("churned"),
                       F.lit(1.0).alias("weight"))


@pytest.mark.parametrize("kind", models.MODELS)
def test_each_model_finds_the_planted_feature(spark, planted, kind):
    training = planted.where(~F.col("is_validation"))
    validation = planted.where(F.col("is_validation"))
    model = models.train(training, kind, FEATURES)
    found = models.metrics(models.score(model, validation))
    # The best possible AUC here is about 0.88 (the planted chance itself).
    assert found["roc_auc"] > 0.8 and found["top_decile_lift"] > 1.5
    weights = {name: abs(value) for name, value in models.importances(model, kind,
                                                                         FEATURES).items()}
    assert max(weights, key=weights.get) == "planted"


def test_platt_calibration_brings_the_mean_to_the_observed_rate(spark, planted):
    skewed = planted.select("churned", (1 / (1 + F.exp(-F.col("planted") + 1.5))).alias(
        models.SCORE))  # ranks well, predicts too few churners
    before = models.metrics(skewed)
    assert before["mean_predicted"] < before["observed_rate"] - 0.1
    after = models.metrics(models.calibrated(skewed, *models.platt(skewed)))
    assert after["mean_predicted"] == pytest.approx(after["observed_rate"], abs=0.01)
    # Order kept: the same AUC, up to the evaluator's 1,000-bin down-sampling of the curve.
    assert after["roc_auc"] == pytest.approx(before["roc_auc"], abs=1e-4)
    assert after["brier"] < before["brier"]


def test_metrics_by_hand(spark):
    scored = spark.createDataFrame([(0.9, 1), (0.8, 0), (0.3, 1), (0.1, 0)],
                                   f"{models.SCORE} double, churned int")
    found = models.metrics(scored)
    # AUC: of the 4 (churner, stayer) pairs, 3 are ordered right
    assert found["roc_auc"] == pytest.approx(0.75)
    assert found["brier"] == pytest.approx((0.01 + 0.64 + 0.49 + 0.01) / 4)
    assert found["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.2) + math.log(0.3)
                                                + math.log(0.9)) / 4)
    assert found["observed_rate"] == 0.5
    # Top decile: the 0.9 row, a churner: rate 1 / 0.5, half the churners captured.
    assert (found["top_decile_lift"], found["top_decile_capture"]) == (2.0, 0.5)
    table = models.calibration_table(scored)
    assert table == [(0.1, 0.0, 1), (0.3, 1.0, 1), (0.8, 0.0, 1), (0.9, 1.0, 1)]
    # ROC from the top: 0.9 (a churner), 0.8 (a stayer), 0.3 (a churner), 0.1 (a stayer)
    points = [(x, y) for x, y, _ in models.roc_points(scored, bins=10)]
    assert points == [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]


def test_isotonic_calibration_is_monotone_and_matches_the_observed_rate(spark, planted):
    skewed = planted.select("churned", (1 / (1 + F.exp(-F.col("planted") + 1.5))).alias(
        models.SCORE))
    fitted = models.calibration(skewed, "isotonic")
    after = fitted.apply(skewed)
    found = models.metrics(after)
    assert found["mean_predicted"] == pytest.approx(found["observed_rate"], abs=1e-9)
    ordered = after.orderBy("planted").select(models.SCORE).collect()
    values = [row[0] for row in ordered]
    assert values == sorted(values)
