"""The segmentation run: read -> clean -> metrics -> grades -> segments -> write, for one
as-of date (`run_segmentation`) or many (`run_backfill`), and migrations between runs."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import rfm_spark
from rfm_spark import lakehouse as lh
from rfm_spark.clean import flag_as_of, flag_rejects
from rfm_spark.config import Clean, Config, code_table
from rfm_spark.grading import GRADE_COLUMN, GradingPlan, grade, thresholds_table
from rfm_spark.logs import stage
from rfm_spark.metrics import (aggregate_customers, aggregate_daily, churn_period_days,
                               customer_metrics, order_amounts, reject_counts,
                               snapshot_aggregate, used_rows)
from rfm_spark.migration import transitions
from rfm_spark.pseudonymise import key_from_environment, pseudonymise
from rfm_spark.read import InputError, read_source, select_roles, to_transactions
from rfm_spark.segments import assign_segments, code_frame, level_columns, segment_summary

log = logging.getLogger(__name__)



def customer_columns(config: Config, levels: tuple[str, ...]) -> tuple[str, ...]:
    """rfm_customers' columns: the schema contract of a run's customers."""
    return ("run_id", "as_of_date", "customer_id", *config.grading.partition_by,
            "first_purchase_date", "last_purchase_date", "recency_days", "tenure_days",
            "frequency", "frequency_rate", "monetary", "r_grade", "f_grade", "m_grade",
            "a_grade", "segment_code", *levels, "tags", "score")


@dataclasses.dataclass
class RunResult:
    run_id: str
    as_of: dt.date
    customers: DataFrame        # rfm_customers rows of this run (cached by run_segmentation)
    segments: DataFrame         # rfm_segments rows of this run
    thresholds: DataFrame       # rfm_thresholds rows of this run
    input_rows: int
    valid_rows: int
    dropped_by_reason: dict[str, int]
    customer_count: int
    written_to: lh.Lakehouse | None
    migrations: list[tuple[str, str]]  # (from, to) run ids of the migrations written


def run_segmentation(spark: SparkSession, config: Config, source: str | DataFrame | None = None,
                     *, run_id: str | None = None, write: bool = True) -> RunResult:
    """Segments `source` (a path, a DataFrame in the source's own columns, or by default
    `input.path`) and, when `write` and an output is configured, writes the run to Delta."""
    started_at = lh.utc_now()
    if run_id is not None:
        lh.check_run_id(run_id)
    source = _source(config, source)
    transactions = _read(spark, config, source)
    as_of = config.metrics.as_of
    if as_of is None and config.clean.lookback_days is not None:
        as_of = _last_valid_date(transactions, config.clean)  # the lookback needs it first
    flagged = flag_rejects(transactions, config.clean, as_of).transform(
        _pseudonymised, config)
    partition_by = config.grading.partition_by
    aggregate = aggregate_customers(flagged, _has_order_id(config), partition_by)
    return _segment(spark, config, aggregate, as_of, source, run_id=run_id, write=write,
                    started_at=started_at, used=used_rows(flagged))


def run_backfill(spark: SparkSession, config: Config, as_of_dates: list[dt.date],
                 source: str | DataFrame | None = None, *, write: bool = True
                 ) -> list[RunResult]:
    """One run per as-of date, oldest first, each equal to `run_segmentation` with that
    `metrics.as_of`. The input is read and aggregated per customer and day once; each
    date's run starts from that much smaller table. The results' frames are not cached."""
    if not as_of_dates:
        raise ValueError("no as-of dates to backfill")
    if config.grading.monetary.of == "orders" and _has_order_id(config):
        raise ValueError("backfill keeps amounts per customer and day, not per order id: "
                         "grading.monetary.of: orders needs an order to be a day here")
    source = _source(config, source)
    transactions = _read(spark, config, source)
    with stage("clean + aggregate per customer and day") as counts:
        flagged = flag_rejects(transactions, config.clean, None).transform(
            _pseudonymised, config)
        daily = aggregate_daily(flagged, _has_order_id(config), config.grading.partition_by)
        daily = daily.persist(StorageLevel.MEMORY_AND_DISK)
        counts["customer_days"] = daily.count()
    results = []
    try:
        for as_of in sorted(set(as_of_dates)):
            aggregate = snapshot_aggregate(daily, as_of, config.clean,
                                           config.grading.partition_by)
            used = used_rows(flag_as_of(daily, config.clean, as_of))
            result = _segment(spark, config.with_as_of(as_of), aggregate, as_of, source,
                              run_id=None, write=write, started_at=lh.utc_now(), used=used)
            result.customers.unpersist()
            results.append(result)
    finally:
        daily.unpersist()
    return results


def migration_between(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str,
                      to_run_id: str) -> DataFrame:
    """rfm_migrations rows from one succeeded run to another, computed, not written."""
    runs = lh.succeeded_runs(spark, lakehouse)
    missing = [run_id for run_id in (from_run_id, to_run_id) if run_id not in runs]
    if missing:
        raise InputError(f"{lakehouse.location(lh.RUNS_TABLE)}: no succeeded run "
                         f"{', '.join(map(repr, missing))}")
    customers = lakehouse.read(spark, "rfm_customers")  # both runs are known to have succeeded
    return transitions(customers.where(F.col("run_id") == from_run_id),
                       customers.where(F.col("run_id") == to_run_id),
                       _run_key(runs[from_run_id]), _run_key(runs[to_run_id]))


def migrate(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str, to_run_id: str
            ) -> DataFrame:
    """Writes (replaces) the rfm_migrations rows from one succeeded run to another and
    returns them as stored."""
    frame = migration_between(spark, lakehouse, lh.check_run_id(from_run_id),
                              lh.check_run_id(to_run_id))
    lakehouse.replace_migrations(frame, from_run_id, to_run_id)
    pair = (F.col("from_run_id") == from_run_id) & (F.col("to_run_id") == to_run_id)
    return lh.read_table(spark, lakehouse, lh.MIGRATIONS_TABLE).where(pair)


def _segment(spark: SparkSession, config: Config, aggregate: DataFrame, as_of: dt.date | None,
             source: str | DataFrame, *, run_id: str | None, write: bool,
             started_at: dt.datetime, used: DataFrame) -> RunResult:
    """From per-customer aggregates (`aggregate_customers` rows) to a written run; `used`
    holds the used transactions (or customer days), read only for the churn period and
    for order amounts when the config needs them."""
    target = _lakehouse(config) if write else None
    with stage("clean + aggregate") as counts:
        aggregate = aggregate.cache()
        by_reason = {row["reject_reason"]: row["rows"]  # one row per reason
                     for row in reject_counts(aggregate).collect()}
        valid_rows = by_reason.pop(None, 0)
        input_rows = valid_rows + sum(by_reason.values())
        counts.update(rows_read=input_rows, rows_used=valid_rows, **by_reason)
    if valid_rows == 0:
        aggregate.unpersist()
        raise InputError(f"{_describe(source)}: no valid transactions "
                         f"{'' if as_of is None else f'up to {as_of} '}"
                         f"(rows read: {input_rows:,}, rejected: {by_reason})")

    if as_of is None:
        as_of = (aggregate.where(F.col("reject_reason").isNull())
                 .agg(F.max("last_purchase_date")).first()[0])
    run_id = run_id or f"{as_of.isoformat()}_{config.sha256[:8]}"
    log.info("run %s, as of %s", run_id, as_of)

    partition_by = config.grading.partition_by
    churn_days = None
    if config.metrics.churn_period is not None:
        with stage("churn period") as counts:
            churn_days = churn_period_days(used, config.metrics.churn_period)
            counts["days"] = churn_days
    plan = GradingPlan(config.grading, config.metrics.frequency, partition_by, churn_days)
    orders = (order_amounts(used, _has_order_id(config), partition_by)
              if config.grading.monetary.of == "orders" else None)
    table = code_table(config)
    levels = level_columns(table)

    with stage("metrics + grades + segments") as counts:
        metrics = customer_metrics(aggregate, as_of, config.metrics, churn_days,
                                   partition_by).cache()
        graded, cuts = grade(metrics, plan, orders)
        for (metric, scope), c in sorted(cuts.items()):
            log.info("%s grades (%s%s): cut points %s", metric, c.method,
                     f", {scope}" if scope else "", [float(u) for u in c.uppers])
        no_age = [F.lit(None).cast("int").alias(GRADE_COLUMN["age"])] if (
            config.grading.age is None) else []
        customers = (
            graded
            .select("*", *no_age)
            .transform(assign_segments, table, config.grading)
            .withColumn("run_id", F.lit(run_id))
            .withColumn("as_of_date", F.lit(as_of))
            .select(*customer_columns(config, levels))
            .cache()
        )
        customer_count = customers.count()
        metrics.unpersist()
        aggregate.unpersist()
        counts["customers"] = customer_count

    codes = code_frame(spark, table)
    segments = segment_summary(customers, codes, partition_by).transform(_with_run, run_id, as_of)
    thresholds = thresholds_table(customers, plan, cuts).transform(_with_run, run_id, as_of)

    migrations: list[tuple[str, str]] = []
    if target is not None:
        def write_migrations() -> None:
            migrations.extend(_write_migrations(spark, target, config, run_id, as_of, customers))

        with stage(f"write {target.location('*')}") as counts:
            lh.write_run(target, run_id, {
                "rfm_customers": customers, "rfm_segments": segments,
                "rfm_thresholds": thresholds,
            }, {
                "run_id": run_id, "as_of_date": as_of, "started_at": started_at,
                "config": config.to_yaml(), "config_sha256": config.sha256,
                "scheme_sha256": config.scheme_sha256, "input_path": _describe(source),
                "input_format": config.input.format if isinstance(source, str) else "dataframe",
                "input_rows": input_rows, "valid_rows": valid_rows,
                "dropped_rows": input_rows - valid_rows, "dropped_by_reason": by_reason,
                "customers": customer_count, "churn_period_days": churn_days,
                "product_version": rfm_spark.__version__,
                "spark_version": spark.version, "delta_version": lh.delta_version(spark),
            }, before_success=write_migrations)
            counts.update(customers=customer_count, migrations=len(migrations))
    else:
        log.info("no output configured (output.lakehouse / output.database): nothing written")
    return RunResult(run_id, as_of, customers, segments, thresholds, input_rows, valid_rows,
                     by_reason, customer_count, target, migrations)


def _write_migrations(spark: SparkSession, target: lh.Lakehouse, config: Config, run_id: str,
                      as_of: dt.date, customers: DataFrame) -> list[tuple[str, str]]:
    """Recomputes every stored migration that involves this run (a re-run changes them)
    and, with `output.migrate_from: previous`, writes the one from the previous run."""
    runs = lh.succeeded_runs(spark, target)
    pairs = set(lh.migration_pairs(spark, target, run_id))
    if config.output.migrate_from == "previous":
        previous = lh.previous_run(runs, run_id, as_of, config.scheme_sha256)
        if previous is not None:
            pairs.add((previous.run_id, run_id))
    written = []
    stored = target.read(spark, "rfm_customers")  # only runs known to have succeeded are read
    for from_id, to_id in sorted(pairs):
        other_id = to_id if from_id == run_id else from_id
        if other_id not in runs:  # not visible; its own (re-)run will recompute the pair
            continue
        other_customers = stored.where(F.col("run_id") == other_id)
        this, other = (run_id, as_of), _run_key(runs[other_id])
        frame = (transitions(customers, other_customers, this, other) if from_id == run_id
                 else transitions(other_customers, customers, other, this))
        target.replace_migrations(frame, from_id, to_id)
        log.info("migrations %s -> %s written", from_id, to_id)
        written.append((from_id, to_id))
    return written


def _pseudonymised(flagged: DataFrame, config: Config) -> DataFrame:
    """Customer ids replaced by their keyed hash, after the rules that read them."""
    settings = config.input.pseudonymise
    if not settings.enabled:
        return flagged
    return pseudonymise(flagged, key_from_environment(settings.key_variable))


def _has_order_id(config: Config) -> bool:
    return config.input.columns.order_id is not None


def _run_key(run: lh.RunInfo) -> tuple[str, dt.date]:
    return run.run_id, run.as_of_date


def _source(config: Config, source: str | DataFrame | None) -> str | DataFrame:
    source = config.input.path if source is None else source
    if source is None:
        raise InputError("no input: pass a path or DataFrame, or set input.path")
    return source


def _read(spark: SparkSession, config: Config, source: str | DataFrame) -> DataFrame:
    with stage("read") as counts:
        raw = (read_source(spark, source, config.input) if isinstance(source, str)
               else select_roles(source, config.input.columns, "the input DataFrame"))
        counts["columns"] = ", ".join(raw.columns)
    return to_transactions(raw, config.input.date_format)


def _with_run(frame: DataFrame, run_id: str, as_of: dt.date) -> DataFrame:
    return frame.select(F.lit(run_id).alias("run_id"), F.lit(as_of).alias("as_of_date"), "*")


def _lakehouse(config: Config) -> lh.Lakehouse | None:
    output = config.output
    if output.lakehouse is None and output.database is None:
        return None
    return lh.Lakehouse(root=output.lakehouse if output.database is None else None,
                        database=output.database)


def _last_valid_date(transactions: DataFrame, policy: Clean) -> dt.date | None:
    usable = flag_rejects(transactions, policy, None).where(F.col("reject_reason").isNull())
    return usable.agg(F.max("purchase_date")).first()[0]


def _describe(source: str | DataFrame) -> str:
    return source if isinstance(source, str) else "<DataFrame>"
