"""Churn, step by step (`train_churn`): the run and its dates -> the history read once
-> labelled rows at each observation date (features, BG/NBD, the RFM segment then) ->
sampling -> both models validated on the latest date against two baselines ->
calibration -> the chosen model refitted on every date and saved -> the run's customers
scored at its as-of date on the churn x value grid -> both tables written.

Driver-side work is on small aggregates only: counts per date and class, the (x, t_x, T)
combinations of each BG/NBD fit, metric rows, curve bins and band cut points.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import lakehouse as lh, names
from rfm_spark.churn import grid, labels as lb, models, value
from rfm_spark.churn.btyd import TIME_UNIT_DAYS
from rfm_spark.config import Churn, Config
from rfm_spark.errors import ConfigError, InputError
from rfm_spark.lakehouse.churn import write_model
from rfm_spark.logs import stage
from rfm_spark.pipeline import History, history
from rfm_spark.session import Caches
from rfm_spark.tables import CHURN_MODELS, CHURN_SCORES

log = logging.getLogger(__name__)
KEYS = ("customer_id", "observed_at")
BASELINES = ("bgnbd", "segment_rate")   # P(no purchase in the horizon); the segment's past rate
_NOT_FEATURES = {*KEYS, models.LABEL, models.WEIGHT, "segment", "p_no_purchase", "is_validation"}


@dataclasses.dataclass(frozen=True)
class ChurnResult:
    record: dict          # the rfm_churn_models row
    scores: DataFrame     # its rfm_churn_scores rows, as stored


@dataclasses.dataclass(frozen=True)
class Validation:
    metrics: dict[str, dict[str, float]]
    importances: dict[str, dict[str, float]]
    roc: dict[str, list[tuple]]
    calibration: dict[str, list[tuple]]
    calibrator: models.Calibration


def train_churn(spark: SparkSession, lakehouse: lh.Lakehouse, run_id: str, config: Config,
                source: str | DataFrame | None = None) -> ChurnResult:
    """Trains `config.churn.model` on the history of run `run_id`'s transactions (read
    and cleaned by `config`, as the run was), scores the run's customers at its as-of
    date and writes rfm_churn_models and rfm_churn_scores. Nothing is written when a
    check fails."""
    spec = config.churn
    names.check_run_id(run_id)
    model_dir = _model_dir(lakehouse, spec)
    run = lh.succeeded_run(spark, lakehouse, run_id)
    lh.refuse_other_scheme(run, config.scheme_sha256,
                           "the segment baseline grades past dates as the run did")
    customers = _run_customers(spark, lakehouse, run)
    roles = tuple(role for role in ("store", "channel") if getattr(config.input.columns, role))
    with history(spark, config, source, also_by=roles) as past, Caches(spark) as cache:
        days = cache(lb.customer_days(past.daily).where(F.col("purchase_date")
                                                        <= F.lit(run.as_of_date)))
        dates = _usable_dates(days, run.as_of_date, spec)
        channels = lb.top_channels(past.daily) if "channel" in roles else []
        observed = lb.dates_frame(spark, dates)
        labelled = lb.labels(days, observed, lb.LabelSpec(
            spec.label, spec.horizon_days, spec.drop_ratio, spec.min_orders))
        counts = _class_counts(labelled, dates, spec)
        rows = cache(_with_features(spark, past, days, labelled, dates, spec, channels))
        features = [name for name in rows.columns if name not in _NOT_FEATURES]
        checked = _validate(rows, dates[-1], spec, features, counts)
        record = {"model_id": uuid.uuid4().hex, "run_id": run.run_id,
                  "as_of_date": run.as_of_date}
        final, trained_rows = _refit(rows, spec, features, counts)
        path = f"{model_dir.rstrip('/')}/{record['model_id']}"
        with stage(f"save the model, BG/NBD and score bands at {run.as_of_date}"):
            final.write().overwrite().save(path)
            at_as_of = _scoring_rows(spark, past, days, customers, run.as_of_date, spec,
                                     channels)
            scores = cache(_scores(at_as_of.frame, final, checked.calibrator, spec, record))
        record.update(_record(spec, dates, counts, checked, at_as_of.fitted, trained_rows, path))
        with stage(f"write churn model {record['model_id']}") as written:
            frame = spark.createDataFrame(
                [tuple(record[name] for name, _ in CHURN_MODELS.layout())],
                CHURN_MODELS.ddl(CHURN_MODELS.layout()))
            write_model(spark, lakehouse, frame, scores)
            written["scores"] = scores.count()
    _log_to_mlflow(spec, record, path)
    stored = lh.read_table(spark, lakehouse, CHURN_SCORES.name).where(
        F.col("model_id") == record["model_id"])
    return ChurnResult(record, stored)


def _model_dir(lakehouse: lh.Lakehouse, spec: Churn) -> str:
    if spec.model_dir:
        return spec.model_dir
    if lakehouse.root is None:
        raise ConfigError("churn models are saved as files: with --database, set "
                          "churn.model_dir (e.g. a Unity Catalog volume path)")
    return f"{lakehouse.root.rstrip('/')}/models"


def _run_customers(spark: SparkSession, lakehouse: lh.Lakehouse, run: lh.RunInfo) -> DataFrame:
    customers = lh.run_rows(spark, lakehouse, "rfm_customers", run)
    lh.refuse_partitioned(customers, run, "churn scores one row per customer")
    return customers.select("customer_id")


def _usable_dates(days: DataFrame, as_of: dt.date, spec: Churn) -> list[dt.date]:
    """The observation dates after the first purchase (one aggregate row); InputError
    when the history is too short for two of them."""
    first = days.agg(F.min("purchase_date")).first()[0]  # one row
    if first is None:
        raise InputError(f"the input has no used purchase on or before the run's as-of "
                         f"date {as_of}")
    planned = lb.observation_dates(as_of, spec.horizon_days, spec.observations)
    usable = [date for date in planned if date > first]
    if len(usable) < 2:
        raise InputError(
            f"the history ({first} to {as_of}, {(as_of - first).days} days) is too short for "
            f"a {spec.horizon_days}-day horizon: of the observation dates "
            f"{', '.join(map(str, planned))} fewer than two fall after the first purchase")
    if len(usable) < len(planned):
        log.warning("churn: observation dates before the first purchase (%s) left out: %s",
                    first, ", ".join(str(d) for d in planned if d not in usable))
    return usable


def _with_features(spark: SparkSession, past: History, days: DataFrame, labelled: DataFrame,
                   dates: list[dt.date], spec: Churn, channels: list[str]) -> DataFrame:
    """The labelled rows (one per eligible customer and observation date) with their
    features, BG/NBD values and, on the last two dates, the customer's RFM segment then."""
    observed = lb.dates_frame(spark, dates)
    rows = (labelled
            .join(lb.features(days, observed), list(KEYS))
            .join(_bgnbd_features(spark, days, dates, spec), list(KEYS), "left")
            .join(_segments_at(past, dates[-2:]), list(KEYS), "left"))
    mix = lb.mix_features(past.daily, observed, channels)
    return rows if mix is None else rows.join(mix, list(KEYS), "left")


def _bgnbd_features(spark: SparkSession, days: DataFrame, dates: list[dt.date], spec: Churn
                    ) -> DataFrame:
    """P(alive), expected purchases and P(no purchase) at each date, from a fit on the
    purchases up to that date only."""
    frames = []
    with stage(f"BG/NBD at {len(dates)} observation dates") as counts:
        for date in dates:
            per_customer = value.rfm_at(days, date)
            fitted = value.fit(per_customer)
            counts[str(date)] = f"r={fitted.bgnbd.r:.3g} a={fitted.bgnbd.a:.3g}"
            frames.append(value.scores(spark, per_customer, fitted, spec.horizon_days)
                          .select("customer_id", F.lit(date).alias("observed_at"), "p_alive",
                                  "expected_purchases", "p_no_purchase"))
    return _union(frames)


def _segments_at(past: History, dates: list[dt.date]) -> DataFrame:
    """Each customer's RFM segment at each date, graded by the run's rules (no write):
    the segment baseline's rates come from the one date, its scores for the next."""
    with stage(f"RFM segments at {', '.join(map(str, dates))}"):
        return _union([past.segment(date).customers.select(
            "customer_id", F.lit(date).alias("observed_at"), "segment") for date in dates])


def _union(frames: list[DataFrame]) -> DataFrame:
    joined = frames[0]
    for frame in frames[1:]:
        joined = joined.unionByName(frame)
    return joined


@dataclasses.dataclass(frozen=True)
class ClassCounts:
    by_date: dict[tuple[dt.date, int], int]   # (date, churned) -> rows

    @property
    def dates(self) -> set[dt.date]:
        return {date for date, _ in self.by_date}

    def of(self, dates) -> dict[int, int]:
        found = {0: 0, 1: 0}
        for (date, churned), rows in self.by_date.items():
            if date in dates:
                found[churned] += rows
        return found


def _class_counts(labelled: DataFrame, dates: list[dt.date], spec: Churn) -> ClassCounts:
    """Labelled rows per date and class (a few rows); InputError when the training dates
    or the validation date hold fewer than `min_class_rows` of either class."""
    found = labelled.groupBy("observed_at", models.LABEL).count().collect()  # dates x 2 rows
    counts = ClassCounts({(row.observed_at, row[models.LABEL]): row["count"] for row in found})
    for label, part in (("training dates", dates[:-1]), ("validation date", dates[-1:])):
        classes = counts.of(part)
        log.info("churn: %s %s: %d churned, %d retained", label,
                 ", ".join(map(str, part)), classes[1], classes[0])
        if min(classes.values()) < spec.min_class_rows:
            raise InputError(
                f"too few rows to train on: the {label} ({', '.join(map(str, part))}) hold "
                f"{classes[1]:,} churned and {classes[0]:,} retained customers, fewer than "
                f"churn.min_class_rows ({spec.min_class_rows}) of one class")
    return counts


def _shares(classes: dict[int, int], spec: Churn) -> dict[int, float]:
    """The share of each class's rows kept for training: all, or above
    `max_training_rows` the smaller class whole up to half the budget and the larger
    filling the rest."""
    limit, total = spec.max_training_rows, sum(classes.values())
    if total <= limit:
        return {0: 1.0, 1: 1.0}
    small = min(classes, key=classes.get)
    kept = min(1.0, limit / 2 / classes[small])
    return {small: kept,
            1 - small: min(1.0, (limit - classes[small] * kept) / classes[1 - small])}


def _sampled(rows: DataFrame, shares: dict[int, float], spec: Churn) -> DataFrame:
    """`rows` sampled by class, the same share on every date, each kept row weighing
    1 / its class's share."""
    churned = F.col(models.LABEL) == 1
    weight = F.when(churned, 1 / shares[1]).otherwise(1 / shares[0])
    if shares == {0: 1.0, 1: 1.0}:
        return rows.withColumn(models.WEIGHT, weight)
    log.info("churn: above churn.max_training_rows (%d): kept %.4f of the churned and %.4f "
             "of the retained rows", spec.max_training_rows, shares[1], shares[0])
    draw = F.rand(spec.seed)
    keep = F.when(churned, draw < shares[1]).otherwise(draw < shares[0])
    return rows.where(keep).withColumn(models.WEIGHT, weight)


def _validate(rows: DataFrame, latest: dt.date, spec: Churn, features: list[str],
              counts: ClassCounts) -> Validation:
    """Both models trained on the earlier dates and measured on the latest, beside the
    baselines; the chosen model's calibration fitted there."""
    is_latest = F.col("observed_at") == F.lit(latest)
    earlier = rows.where(~is_latest)
    classes = counts.of(counts.dates - {latest})
    shares = _shares(classes, spec)
    training = _sampled(earlier, shares, spec)
    training_rows = round(sum(rows * shares[label] for label, rows in classes.items()))
    validation = rows.where(is_latest)
    found = {"metrics": {}, "importances": {}, "roc": {}, "calibration": {}}

    def measure(name: str, scored: DataFrame) -> None:
        # The baselines' curves too: the report's ROC and calibration charts compare.
        found["metrics"][name] = models.metrics(scored)
        found["roc"][name] = models.roc_points(scored)
        found["calibration"][name] = models.calibration_table(scored)

    chosen = None
    for kind in models.MODELS:
        with stage(f"train {kind} on {len(counts.dates) - 1} dates"):
            fitted = models.train(training, kind, features, spec.seed, training_rows)
            found["importances"][kind] = models.importances(fitted, kind, features)
        scored = models.score(fitted, validation)
        if kind == spec.model:
            chosen = scored
        with stage(f"measure {kind} on {latest}"):
            measure(kind, scored)
    with stage(f"calibrate and measure the baselines on {latest}") as counted:
        calibrator = models.calibration(chosen, spec.calibration)
        measure("calibrated", calibrator.apply(chosen))
        measure("bgnbd", validation.withColumn(models.SCORE, F.col("p_no_purchase")))
        before = rows.where(F.col("observed_at") == F.lit(max(counts.dates - {latest})))
        measure("segment_rate", _segment_rates(before, validation))
        counted.update({f"{name} auc": round(m["roc_auc"], 4)
                        for name, m in found["metrics"].items()})
    return Validation(found["metrics"], found["importances"], found["roc"],
                      found["calibration"], calibrator)


def _segment_rates(before: DataFrame, validation: DataFrame) -> DataFrame:
    """Each validation row scored by its RFM segment's churn rate on the date before
    (the overall rate there for a segment without customers then)."""
    rates = before.groupBy("segment").agg(F.avg(models.LABEL).alias("rate"))
    overall = before.agg(F.avg(models.LABEL)).first()[0]  # one row
    return (validation.join(F.broadcast(rates), "segment", "left")  # one row per segment
            .withColumn(models.SCORE, F.coalesce("rate", F.lit(overall))))


def _refit(rows: DataFrame, spec: Churn, features: list[str], counts: ClassCounts
           ) -> tuple[object, int]:
    """The chosen model on every labelled date, for scoring; and the rows it saw."""
    with stage(f"refit {spec.model} on every date") as counted:
        every = _sampled(rows, _shares(counts.of(counts.dates), spec), spec)
        counted["rows"] = trained_rows = every.count()
        return models.train(every, spec.model, features, spec.seed, trained_rows), trained_rows


@dataclasses.dataclass(frozen=True)
class ScoringRows:
    frame: DataFrame          # the run's customers with the features at the as-of date
    fitted: value.Fitted      # BG/NBD and Gamma-Gamma at the as-of date


def _scoring_rows(spark: SparkSession, past: History, days: DataFrame, customers: DataFrame,
                  as_of: dt.date, spec: Churn, channels: list[str]) -> ScoringRows:
    observed = lb.dates_frame(spark, [as_of])
    per_customer = value.rfm_at(days, as_of)
    fitted = value.fit(per_customer)
    btyd_values = value.scores(spark, per_customer, fitted, spec.horizon_days, spec.clv_months,
                               spec.monthly_discount)
    frame = (customers
             .join(lb.features(days, observed), "customer_id")
             .join(btyd_values.select("customer_id", "p_alive", "expected_purchases",
                                      "expected_order_value", "clv"), "customer_id")
             .join(lb.recent_money(days, as_of, spec.horizon_days), "customer_id", "left"))
    mix = lb.mix_features(past.daily, observed, channels)
    if mix is not None:
        frame = frame.join(mix.drop("observed_at"), "customer_id", "left")
    return ScoringRows(frame, fitted)


def _scores(frame: DataFrame, final, calibrator: models.Calibration, spec: Churn,
            record: dict) -> DataFrame:
    """rfm_churn_scores rows: calibrated probability, value and the grid's cell."""
    recent_orders = F.coalesce(F.col("orders_recent"), F.lit(0))
    eligible = (recent_orders >= spec.min_orders) if spec.label == "drop" else F.lit(True)
    money = F.coalesce(F.col("money_recent"), F.lit(0.0))
    scored = (calibrator.apply(models.score(final, frame))
              .withColumn("eligible", eligible)
              .withColumn("value", F.col("clv") if spec.value == "clv" else money))
    churn_cuts = grid.cut_values(scored, models.SCORE, spec.churn_bands)
    value_cuts = grid.cut_values(scored, "value", spec.value_bands)
    run = {"run_id": record["run_id"], "as_of_date": record["as_of_date"],
           "model_id": record["model_id"]}
    return (grid.with_grid(scored, spec, churn_cuts, value_cuts)
            .select(*[F.lit(run[name]).cast(kind).alias(name) if name in run
                      else F.col(name).cast(kind) for name, kind in CHURN_SCORES.layout()]))


def _record(spec: Churn, dates: list[dt.date], counts: ClassCounts, checked: Validation,
            fitted: value.Fitted, trained_rows: int, path: str) -> dict:
    every = counts.of(counts.dates)
    shares = _shares(every, spec)
    bgnbd, gamma_gamma = fitted.bgnbd, fitted.gamma_gamma
    return {
        "trained_at": lh.utc_now(), "model": spec.model, "label": spec.label,
        "horizon_days": spec.horizon_days, "observation_dates": dates,
        "training_rows": trained_rows,
        "validation_rows": sum(counts.of({dates[-1]}).values()),
        "positive_rate": every[1] / sum(every.values()),
        "sample_weights": {"churned": 1 / shares[1], "retained": 1 / shares[0]},
        "metrics": checked.metrics,
        "feature_importances": checked.importances,
        # Curve points as the table returns them (asDict): {"x", "y", "rows"}.
        "roc": {name: [_point(*p) for p in points] for name, points in checked.roc.items()},
        "calibration": {name: [_point(*p) for p in table]
                        for name, table in checked.calibration.items()},
        "calibration_method": spec.calibration,
        **{f"bgnbd_{name}": float(getattr(bgnbd, name))
           for name in ("r", "alpha", "a", "b", "log_likelihood")},
        "bgnbd_standard_errors": [float(e) for e in bgnbd.standard_errors],
        **{f"gamma_gamma_{name}": float(getattr(gamma_gamma, name)) if gamma_gamma else None
           for name in ("p", "q", "v")},
        "time_unit_days": TIME_UNIT_DAYS, "model_path": path,
    }


def _point(x: float, y: float, rows: int) -> dict:
    return {"x": float(x), "y": float(y), "rows": int(rows)}


def _log_to_mlflow(spec: Churn, record: dict, path: str) -> None:
    """With `churn.mlflow`, the model's metrics and parameters in an MLflow run (as on
    Databricks); a warning where mlflow is not installed."""
    if not spec.mlflow:
        return
    try:
        import mlflow
    except ImportError:
        log.warning("churn.mlflow is true but mlflow is not installed: nothing logged")
        return
    with mlflow.start_run(run_name=f"rfm churn {record['run_id']}"):
        mlflow.set_tags({"model_id": record["model_id"], "run_id": record["run_id"],
                         "model_path": path})
        mlflow.log_params({"model": spec.model, "label": spec.label,
                           "horizon_days": spec.horizon_days,
                           "observation_dates": ",".join(map(str, record["observation_dates"])),
                           "calibration": spec.calibration})
        mlflow.log_metrics({f"{name}.{metric}": value for name, found in record["metrics"].items()
                            for metric, value in found.items() if value == value})
        mlflow.log_dict(record["feature_importances"], "feature_importances.json")
