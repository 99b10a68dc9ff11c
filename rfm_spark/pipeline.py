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
from rfm_spark.clean import flag_as_of, flag_rejects, quarantined
from rfm_spark.config import Clean, Config, code_table
from rfm_spark.fingerprint import input_fingerprint
from rfm_spark.grading import GRADE_COLUMN, GradingPlan, grade, thresholds_table
from rfm_spark.logs import stage
from rfm_spark.metrics import (aggregate_customers, aggregate_daily, churn_period_days,
                               customer_metrics, customers_without_purchase, order_amounts,
                               reject_counts, snapshot_aggregate, used_rows)
from rfm_spark.migration import transitions
from rfm_spark.preflight import check_input
from rfm_spark.pseudonymise import key_from_environment, pseudonymise
from rfm_spark.quality import (QualityRow, quality_aggregate, quality_frame, quality_rows,
                               warnings)
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
    rejects: DataFrame          # rfm_rejects rows of this run (the rejected rows, re-read)
    quality: list[QualityRow]   # rfm_quality rows of this run
    input_rows: int
    valid_rows: int
    dropped_by_reason: dict[str, int]
    customer_count: int
    written_to: lh.Lakehouse | None
    migrations: list[tuple[str, str]]  # (from, to) run ids of the migrations written


@dataclasses.dataclass
class _Prepared:
    """What `_segment` starts from: per-customer aggregates (`aggregate_customers` rows),
    the used purchases (read for the churn period and order amounts when configured), the
    flagged transactions (read for rfm_rejects) and the quality report's aggregate."""
    aggregate: DataFrame
    used: DataFrame
    flagged: DataFrame
    quality: DataFrame


def run_segmentation(spark: SparkSession, config: Config, source: str | DataFrame | None = None,
                     *, run_id: str | None = None, write: bool = True, force: bool = False
                     ) -> RunResult:
    """Segments `source` (a path, a DataFrame in the source's own columns, or by default
    `input.path`) and, when `write` and an output is configured, writes the run to Delta.
    A run id written from other input is only replaced with `force`."""
    started_at = lh.utc_now()
    if run_id is not None:
        lh.check_run_id(run_id)
    source = _source(config, source)
    transactions = _read(spark, config, source)
    fingerprint = (input_fingerprint(spark, transactions, source, config.input.format)
                   if write else None)
    as_of = config.metrics.as_of
    if as_of is None and (config.clean.lookback_days is not None
                          or config.clean.cancellations == "net"):
        # The lookback needs it first; a netted cancellation after the last purchase
        # still moves the as-of date, which the customer aggregate does not show.
        as_of = _last_valid_date(transactions, config.clean)
    flagged = _flagged(transactions, config, as_of)
    aggregate = aggregate_customers(flagged, _has_order_key(config), config.grading.partition_by)
    quality = (quality_aggregate(flagged, ("store",)) if _store_outside_partitions(config)
               else aggregate)
    return _segment(spark, config, _Prepared(aggregate, used_rows(flagged), flagged, quality),
                    as_of, source, run_id=run_id, write=write, started_at=started_at,
                    fingerprint=fingerprint, force=force)


def run_backfill(spark: SparkSession, config: Config, as_of_dates: list[dt.date],
                 source: str | DataFrame | None = None, *, write: bool = True,
                 force: bool = False) -> list[RunResult]:
    """One run per as-of date, oldest first, each equal to `run_segmentation` with that
    `metrics.as_of`. The input is read and aggregated per customer and day once; each
    date's run starts from that much smaller table. The results' frames are not cached."""
    if not as_of_dates:
        raise ValueError("no as-of dates to backfill")
    if config.grading.monetary.of == "orders" and _has_order_key(config):
        raise ValueError("backfill keeps amounts per customer and day, not per order id: "
                         "grading.monetary.of: orders needs an order to be a day here")
    source = _source(config, source)
    transactions = _read(spark, config, source)
    fingerprint = (input_fingerprint(spark, transactions, source, config.input.format)
                   if write else None)
    partition_by = config.grading.partition_by
    store = ("store",) if _store_outside_partitions(config) else ()
    with stage("clean + aggregate per customer and day") as counts:
        flagged = _flagged(transactions, config, None)
        daily = aggregate_daily(flagged, _has_order_key(config), partition_by + store)
        daily = daily.persist(StorageLevel.MEMORY_AND_DISK)
        counts["customer_days"] = daily.count()
    results = []
    try:
        for as_of in sorted(set(as_of_dates)):
            daily_as_of = flag_as_of(daily, config.clean, as_of)
            aggregate = snapshot_aggregate(daily, as_of, config.clean, partition_by)
            prepared = _Prepared(
                aggregate, used_rows(daily_as_of), flag_as_of(flagged, config.clean, as_of),
                quality_aggregate(daily_as_of, store) if store else aggregate)
            result = _segment(spark, config.with_as_of(as_of), prepared, as_of, source,
                              run_id=None, write=write, started_at=lh.utc_now(),
                              fingerprint=fingerprint, force=force)
            result.customers.unpersist()
            results.append(result)
    finally:
        daily.unpersist()
    return results


def migration_between(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str,
                      to_run_id: str) -> DataFrame:
    """rfm_migrations rows from one succeeded run to another, computed, not written."""
    return _migration(spark, lakehouse, *_succeeded_pair(spark, lakehouse, from_run_id,
                                                         to_run_id))


def migrate(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str, to_run_id: str
            ) -> DataFrame:
    """Writes (replaces) the rfm_migrations rows from one succeeded run to another and
    returns them as stored."""
    runs = _succeeded_pair(spark, lakehouse, lh.check_run_id(from_run_id),
                           lh.check_run_id(to_run_id))
    lakehouse.replace_migrations(_migration(spark, lakehouse, *runs), from_run_id, to_run_id,
                                 (runs[0].attempt_id, runs[1].attempt_id))
    pair = (F.col("from_run_id") == from_run_id) & (F.col("to_run_id") == to_run_id)
    return lh.read_table(spark, lakehouse, lh.MIGRATIONS_TABLE).where(pair)


def _succeeded_pair(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str,
                    to_run_id: str) -> tuple[lh.RunInfo, lh.RunInfo]:
    runs = lh.succeeded_runs(spark, lakehouse)
    missing = [run_id for run_id in (from_run_id, to_run_id) if run_id not in runs]
    if missing:
        raise InputError(f"{lakehouse.location(lh.RUNS_TABLE)}: no succeeded run "
                         f"{', '.join(map(repr, missing))}")
    return runs[from_run_id], runs[to_run_id]


def _migration(spark: SparkSession, lakehouse: lh.Lakehouse, from_run: lh.RunInfo,
               to_run: lh.RunInfo) -> DataFrame:
    """rfm_migrations rows between the succeeded attempts of two runs."""
    return transitions(lh.run_rows(spark, lakehouse, "rfm_customers", from_run),
                       lh.run_rows(spark, lakehouse, "rfm_customers", to_run),
                       _run_key(from_run), _run_key(to_run))


def _segment(spark: SparkSession, config: Config, prepared: _Prepared, as_of: dt.date | None,
             source: str | DataFrame, *, run_id: str | None, write: bool,
             started_at: dt.datetime, fingerprint: str | None = None, force: bool = False
             ) -> RunResult:
    """From per-customer aggregates to a written run."""
    target = _lakehouse(config) if write else None
    with stage("clean + aggregate") as counts:
        aggregate = prepared.aggregate.cache()
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
    with stage("quality") as counts:
        # A per-store aggregate of its own is read four times; the run's is cached above.
        own = prepared.quality is prepared.aggregate
        quality_source = aggregate if own else prepared.quality.cache()
        quality = quality_rows(quality_source, config.input.columns.store is not None,
                               config.quality)
        if not own:
            quality_source.unpersist()
        if config.clean.cancellations == "net":
            quality.append(QualityRow("customers", "only_netted_cancellations",
                                      customers_without_purchase(aggregate).count()))
        for warning in warnings(quality):
            log.warning("data quality: %s", warning)
        counts["warnings"] = len(warnings(quality))

    if as_of is None:
        as_of = (aggregate.where(F.col("reject_reason").isNull())
                 .agg(F.max("last_purchase_date")).first()[0])
    run_id = run_id or f"{as_of.isoformat()}_{config.sha256[:8]}"
    log.info("run %s, as of %s", run_id, as_of)

    partition_by = config.grading.partition_by
    churn_days = None
    if config.metrics.churn_period is not None:
        with stage("churn period") as counts:
            churn_days = churn_period_days(prepared.used, config.metrics.churn_period)
            counts["days"] = churn_days
    plan = GradingPlan(config.grading, config.metrics.frequency, partition_by, churn_days)
    orders = (order_amounts(prepared.used, _has_order_key(config), partition_by)
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
    quality.append(QualityRow("customers", "graded", customer_count))

    codes = code_frame(spark, table)
    segments = segment_summary(customers, codes, partition_by).transform(_with_run, run_id, as_of)
    thresholds = thresholds_table(customers, plan, cuts).transform(_with_run, run_id, as_of)
    rejects = _rejects(prepared.flagged, config, by_reason).transform(_with_run, run_id, as_of)

    migrations: list[tuple[str, str]] = []
    if target is not None:
        def write_migrations(attempt_id: str) -> None:
            migrations.extend(_write_migrations(spark, target, config, run_id, attempt_id,
                                                as_of, customers))

        with stage(f"write {target.location('*')}") as counts:
            lh.write_run(target, run_id, {
                "rfm_customers": customers, "rfm_segments": segments,
                "rfm_thresholds": thresholds, "rfm_rejects": rejects,
                "rfm_quality": quality_frame(spark, quality).transform(_with_run, run_id, as_of),
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
            }, before_success=write_migrations, input_fingerprint=fingerprint, force=force)
            counts.update(customers=customer_count, migrations=len(migrations))
    else:
        log.info("no output configured (output.lakehouse / output.database): nothing written")
    return RunResult(run_id, as_of, customers, segments, thresholds, rejects, quality,
                     input_rows, valid_rows, by_reason, customer_count, target, migrations)


def _write_migrations(spark: SparkSession, target: lh.Lakehouse, config: Config, run_id: str,
                      attempt_id: str, as_of: dt.date, customers: DataFrame
                      ) -> list[tuple[str, str]]:
    """Recomputes every stored migration that involves this run (a re-run changes them)
    and, with `output.migrate_from: previous`, writes the one from the previous run; the
    rows are tagged with this attempt and the other run's succeeded attempt."""
    runs = lh.succeeded_runs(spark, target)
    pairs = set(lh.migration_pairs(spark, target, run_id))
    if config.output.migrate_from == "previous":
        previous = lh.previous_run(runs, run_id, as_of, config.scheme_sha256)
        if previous is not None:
            pairs.add((previous.run_id, run_id))
    written = []
    for from_id, to_id in sorted(pairs):
        other_id = to_id if from_id == run_id else from_id
        if other_id not in runs:  # not visible; its own (re-)run will recompute the pair
            continue
        other_customers = lh.run_rows(spark, target, "rfm_customers", runs[other_id])
        this, other = (run_id, as_of), _run_key(runs[other_id])
        frame = (transitions(customers, other_customers, this, other) if from_id == run_id
                 else transitions(other_customers, customers, other, this))
        attempts = {run_id: attempt_id, other_id: runs[other_id].attempt_id}
        target.replace_migrations(frame, from_id, to_id, (attempts[from_id], attempts[to_id]))
        log.info("migrations %s -> %s written", from_id, to_id)
        written.append((from_id, to_id))
    return written


def _flagged(transactions: DataFrame, config: Config, as_of: dt.date | None) -> DataFrame:
    return (flag_rejects(transactions, config.clean, as_of)
            .transform(_with_order_key, config)
            .transform(_pseudonymised, config))


def _with_order_key(flagged: DataFrame, config: Config) -> DataFrame:
    """Without an order id, `input.order_key` roles other than the date make the order
    id (H&M: a customer's purchases on one day in one channel are one order)."""
    roles = config.input.order_key
    if config.input.columns.order_id is not None or roles == ("date",):
        return flagged
    parts = [F.col("purchase_date" if role == "date" else role).cast("string") for role in roles]
    return flagged.withColumn("order_id", F.concat_ws("|", *parts))


def _rejects(flagged: DataFrame, config: Config, by_reason: dict[str, int]) -> DataFrame:
    """rfm_rejects rows; without quarantined rows, an empty frame that reads nothing."""
    reasons = config.clean.quarantine
    if not any(reasons is None or reason in reasons for reason in by_reason):
        flagged = flagged.where(F.lit(False))
    settings = config.input.pseudonymise
    return quarantined(flagged, reasons,
                       config.input.columns.customer_id if settings.enabled else None)


def _store_outside_partitions(config: Config) -> bool:
    """The quality report's per-store shares need the store, which the customer
    aggregate only has when grading is partitioned by it."""
    return (config.input.columns.store is not None
            and "store" not in config.grading.partition_by)


def _pseudonymised(flagged: DataFrame, config: Config) -> DataFrame:
    """Customer ids replaced by their keyed hash, after the rules that read them."""
    settings = config.input.pseudonymise
    if not settings.enabled:
        return flagged
    return pseudonymise(flagged, key_from_environment(settings.key_variable))


def _has_order_key(config: Config) -> bool:
    """An order is more than a customer's day: an order id, or `input.order_key`."""
    return config.input.columns.order_id is not None or config.input.order_key != ("date",)


def _run_key(run: lh.RunInfo) -> tuple[str, dt.date]:
    return run.run_id, run.as_of_date


def _source(config: Config, source: str | DataFrame | None) -> str | DataFrame:
    source = config.input.path if source is None else source
    if source is None:
        raise InputError("no input: pass a path or DataFrame, or set input.path")
    return source


def _read(spark: SparkSession, config: Config, source: str | DataFrame) -> DataFrame:
    if isinstance(source, str):
        check_input(config, source)
    with stage("read") as counts:
        raw = (read_source(spark, source, config.input) if isinstance(source, str)
               else select_roles(source, config.input.columns, "the input DataFrame"))
        counts["columns"] = ", ".join(raw.columns)
    return to_transactions(raw, config.input.date_format, config.input.csv.decimal)


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
