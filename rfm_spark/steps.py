"""The steps of a segmentation run, each a function of a small context and what the step
before gave: count rows -> quality report -> as-of date and run id -> churn period ->
grade and segment customers -> the run's tables (with the upgrade simulation when
configured) -> write -> report (`output.report`). `pipeline.py` calls them in that order,
for one as-of date or, from one aggregate, for many.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import __version__, lakehouse as lh
from rfm_spark.clean import quarantined
from rfm_spark.config import Config, code_table
from rfm_spark.errors import InputError
from rfm_spark.fingerprint import InputSnapshot
from rfm_spark.grading import Cuts, GradingPlan, grade, thresholds_table
from rfm_spark.lakehouse.storage import Layout
from rfm_spark.logs import stage
from rfm_spark.metrics import (churn_period_days, customer_metrics, customers_without_purchase,
                               order_amounts)
from rfm_spark.migration import transitions
from rfm_spark.quality import (QualityRow, ReasonTotal, quality_frame, quality_rows,
                               reason_totals, warnings)
from rfm_spark.read import read_errors
from rfm_spark.registry import METRICS
from rfm_spark.segments import assign_segments, attributes, code_frame, segment_summary
from rfm_spark.session import Caches
from rfm_spark.simulation import tier_ladder, upgrade_simulation
from rfm_spark.tables import ATTEMPT, TABLES

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Source:
    """What a run reads: a path, checked and fingerprinted (`snapshot`), or a DataFrame."""
    path: str | None = None
    frame: DataFrame | None = None
    snapshot: InputSnapshot | None = None

    def describe(self) -> str:
        return self.snapshot.qualified if self.snapshot else "<DataFrame>"


@dataclasses.dataclass(frozen=True)
class RunContext:
    spark: SparkSession
    config: Config                 # input.path as Spark resolves it
    source: Source
    target: lh.Lakehouse | None    # None: compute, write nothing
    force: bool = False
    items: bool = False            # read input.columns.item too (the basket job)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """What a run starts from: per-customer aggregates (`aggregate_customers` rows), the
    used purchases (read for the churn period and order amounts when configured), the
    flagged transactions (read for rfm_rejects) and, when the aggregate lacks the store,
    a per-store aggregate for the quality report."""
    aggregate: DataFrame
    used: DataFrame
    flagged: DataFrame
    store_aggregate: DataFrame | None = None


@dataclasses.dataclass(frozen=True)
class RowCounts:
    input_rows: int
    valid_rows: int
    by_reason: dict[str, int]


@dataclasses.dataclass
class RunResult:
    run_id: str
    as_of: dt.date
    customers: DataFrame        # rfm_customers rows of this run (cached where the session can)
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
    upgrade: DataFrame | None = None   # rfm_upgrade_simulation rows, when configured
    report_path: str | None = None     # the HTML report written (`output.report`)


def count_rows(ctx: RunContext, aggregate: DataFrame, as_of: dt.date | None
               ) -> tuple[RowCounts, list[ReasonTotal]]:
    """Rows read, used and rejected per reason (the first pass over the input); no valid
    row is an InputError."""
    with stage("clean + aggregate") as counts, read_errors(ctx.source.describe()):
        totals = reason_totals(aggregate)
        by_reason = {total.reason: total.rows for total in totals}
        valid_rows = by_reason.pop(None, 0)
        input_rows = valid_rows + sum(by_reason.values())
        counts.update(rows_read=input_rows, rows_used=valid_rows, **by_reason)
    if valid_rows == 0:
        raise InputError(f"{ctx.source.describe()}: no valid transactions "
                         f"{'' if as_of is None else f'up to {as_of} '}"
                         f"(rows read: {input_rows:,}, rejected: {by_reason})")
    return RowCounts(input_rows, valid_rows, by_reason), totals


def report_quality(ctx: RunContext, prepared: Prepared, aggregate: DataFrame,
                   totals: list[ReasonTotal], cache: Caches) -> list[QualityRow]:
    """The data-quality report; its warnings are logged."""
    with stage("quality") as counts:
        stores = None
        if ctx.config.input.columns.store is not None:
            stores = aggregate if prepared.store_aggregate is None else cache(
                prepared.store_aggregate)  # read twice
        quality = quality_rows(totals, stores, ctx.config.quality)
        if ctx.config.clean.cancellations == "net":
            quality.append(QualityRow("customers", "only_netted_cancellations",
                                      customers_without_purchase(aggregate).count()))
        for warning in warnings(quality):
            log.warning("data quality: %s", warning)
        counts["warnings"] = len(warnings(quality))
    return quality


def resolve_as_of(totals: list[ReasonTotal], as_of: dt.date | None) -> dt.date:
    """The as-of date given, or the last used purchase date."""
    if as_of is not None:
        return as_of
    return next(total.last for total in totals if total.reason is None)


def default_run_id(config: Config, as_of: dt.date) -> str:
    return f"{as_of.isoformat()}_{config.sha256[:8]}"


def churn_period(ctx: RunContext, used: DataFrame) -> int | None:
    spec = ctx.config.metrics.churn_period
    if spec is None:
        return None
    with stage("churn period") as counts:
        counts["days"] = churn_period_days(used, spec)
    return counts["days"]


@dataclasses.dataclass(frozen=True)
class Graded:
    customers: DataFrame                   # conformed rfm_customers rows, without attempt
    count: int
    plan: GradingPlan
    cuts: dict[tuple[str, str], Cuts]


def grade_customers(ctx: RunContext, aggregate: DataFrame, used: DataFrame, run: RunKey,
                    churn_days: int | None, cache: Caches) -> Graded:
    """Metrics, grades and segments of every customer: rfm_customers' rows."""
    config = ctx.config
    partition_by = config.grading.partition_by
    plan = GradingPlan(config.grading, config.metrics.frequency, partition_by, churn_days)
    orders = (order_amounts(used, has_order_key(config), partition_by)
              if config.grading.monetary.of == "orders" else None)
    table = code_table(config)
    with stage("metrics + grades + segments") as counts:
        metrics = cache(customer_metrics(aggregate, run.as_of, config.metrics, churn_days,
                                         partition_by))
        graded, cuts = grade(metrics, plan, orders)
        for (metric, scope), c in sorted(cuts.items()):
            log.info("%s grades (%s%s): cut points %s", metric, c.method,
                     f", {scope}" if scope else "", [float(u) for u in c.uppers])
        no_age = [] if config.grading.age else [
            F.lit(None).cast("int").alias(METRICS["age"].grade_column)]
        customers = (graded.select("*", *no_age)
                     .transform(assign_segments, table, config.grading)
                     .transform(with_run, run)
                     .transform(conform, layout(config, "rfm_customers")))
        customers = customers.cache() if cache.enabled else customers  # the result's
        counts["customers"] = customers.count()
    return Graded(customers, counts["customers"], plan, cuts)


@dataclasses.dataclass(frozen=True)
class RunKey:
    run_id: str
    as_of: dt.date


def run_tables(ctx: RunContext, graded: Graded, flagged: DataFrame, counts: RowCounts,
               quality: list[QualityRow], run: RunKey) -> dict[str, DataFrame]:
    """The run's rows of every run table but rfm_customers' (`graded`), conformed."""
    config = ctx.config
    frames = {
        "rfm_segments": segment_summary(graded.customers, code_frame(ctx.spark, code_table(
            config)), config.grading.partition_by),
        "rfm_thresholds": thresholds_table(graded.customers, graded.plan, graded.cuts),
        "rfm_rejects": rejects(flagged, config, counts.by_reason),
        "rfm_quality": quality_frame(ctx.spark, quality),
    }
    upgrade = config.simulation.upgrade
    if upgrade is not None:
        frames["rfm_upgrade_simulation"] = upgrade_simulation(
            graded.customers, upgrade, tier_ladder(config.grading))
    return {"rfm_customers": graded.customers, **{
        name: frame.transform(with_run, run).transform(conform, layout(config, name))
        for name, frame in frames.items()}}


def rejects(flagged: DataFrame, config: Config, by_reason: dict[str, int]) -> DataFrame:
    """rfm_rejects rows; without quarantined rows, an empty frame that reads nothing."""
    reasons = config.clean.quarantine
    if not any(reasons is None or reason in reasons for reason in by_reason):
        flagged = flagged.where(F.lit(False))
    return quarantined(flagged, reasons, config.input.pseudonymise.enabled)


def run_record(ctx: RunContext, run: RunKey, counts: RowCounts, customers: int,
               churn_days: int | None, started_at: dt.datetime) -> dict:
    """The run's rfm_runs columns but status, attempt and finish."""
    config, source = ctx.config, ctx.source
    return {
        "run_id": run.run_id, "as_of_date": run.as_of, "started_at": started_at,
        "config": config.to_yaml(), "config_sha256": config.sha256,
        "scheme_sha256": config.scheme_sha256, "input_path": source.describe(),
        "input_format": config.input.format if source.snapshot else "dataframe",
        "input_rows": counts.input_rows, "valid_rows": counts.valid_rows,
        "dropped_rows": counts.input_rows - counts.valid_rows,
        "dropped_by_reason": counts.by_reason, "customers": customers,
        "churn_period_days": churn_days, "product_version": __version__,
        "spark_version": ctx.spark.version, "config_sources": list(config.sources),
    }


def write(ctx: RunContext, run: RunKey, tables: dict[str, DataFrame], record: dict
          ) -> list[tuple[str, str]]:
    """Writes the run (see `lakehouse.protocol`) and its migrations; the pairs written."""
    migrations: list[tuple[str, str]] = []
    snapshot = ctx.source.snapshot
    write = lh.RunWrite(run.run_id, record, tables,
                        {name: layout(ctx.config, name, with_attempt=True) for name in tables},
                        input_fingerprint=snapshot.fingerprint if snapshot else None,
                        keep_stored_fingerprint=bool(snapshot) and snapshot.fingerprint is None)

    def write_migrations(attempt: lh.Attempt) -> None:
        migrations.extend(write_migrations_of(ctx, run, tables["rfm_customers"], attempt))

    with stage(f"write {ctx.target.location('*')}") as counts:
        lh.write_run(ctx.spark, ctx.target, write, force=ctx.force,
                     before_success=write_migrations)
        counts["migrations"] = len(migrations)
    return migrations


def write_migrations_of(ctx: RunContext, run: RunKey, customers: DataFrame,
                        attempt: lh.Attempt) -> list[tuple[str, str]]:
    """Recomputes every stored migration that involves this run (a re-run changes them)
    and, with `output.migrate_from: previous`, writes the one from the previous run; the
    rows are tagged with this attempt and the other run's succeeded attempt."""
    spark, target, runs = ctx.spark, ctx.target, attempt.state.succeeded
    pairs = set(lh.migration_pairs(spark, target, run.run_id)) if attempt.state.written_before \
        else set()
    if ctx.config.output.migrate_from == "previous":
        previous = lh.previous_run(runs, run.run_id, run.as_of, ctx.config.scheme_sha256)
        if previous is not None:
            pairs.add((previous.run_id, run.run_id))
    frames = {}
    for from_id, to_id in sorted(pairs):
        other_id = to_id if from_id == run.run_id else from_id
        if other_id not in runs:  # not visible; its own (re-)run will recompute the pair
            continue
        other = runs[other_id]
        other_customers = lh.run_rows(spark, target, "rfm_customers", other)
        this, that = (run.run_id, run.as_of), (other.run_id, other.as_of_date)
        frame = (transitions(customers, other_customers, this, that) if from_id == run.run_id
                 else transitions(other_customers, customers, that, this))
        tags = {run.run_id: attempt.attempt_id, other_id: other.attempt_id}
        frames[(from_id, to_id)] = frame.select(
            "*", F.lit(tags[from_id]).cast("string").alias("from_attempt_id"),
            F.lit(tags[to_id]).cast("string").alias("to_attempt_id"))
    if frames:
        columns = attempt.columns["rfm_migrations"]
        lh.concurrently({f"{pair}": (lambda frame=frame: target.append(
            conform(frame, columns), "rfm_migrations", columns)) for pair, frame in frames.items()})
        for from_id, to_id in frames:
            log.info("migrations %s -> %s written", from_id, to_id)
    return sorted(frames)


def write_report(ctx: RunContext, run: RunKey) -> str:
    """The run's HTML report, from its tables as written (they are read back as any
    reader sees them); its path."""
    # Imported here: the report reads the campaign and churn tables through their
    # packages, which import the pipeline that calls this step.
    from rfm_spark.html_report import write_report as write_html
    path = write_html(ctx.spark, ctx.target, run.run_id)
    log.info("report of run %s written to %s", run.run_id, path)
    return path


def layout(config: Config, table: str, with_attempt: bool = False) -> Layout:
    """The table's columns for a run of `config` (its partitions and group attributes);
    the run's frames have no attempt id, which the writer adds."""
    laid = TABLES[table].layout(config.grading.partition_by, attributes(code_table(config)))
    return tuple(column for column in laid if with_attempt or column[0] != ATTEMPT)


def conform(frame: DataFrame, columns: Layout) -> DataFrame:
    """Exactly `columns`, in order and in their declared types: the schema contract of
    every table written. A missing or extra column is a bug, not a user's error."""
    names = [name for name, _ in columns]
    missing = [name for name in names if name not in frame.columns]
    extra = [name for name in frame.columns if name not in names]
    if missing or extra:
        raise AssertionError(f"rows do not match the table contract: missing {missing}, "
                             f"not declared {extra}")
    return frame.select(*[F.col(f"`{name}`").cast(kind).alias(name) for name, kind in columns])


def with_run(frame: DataFrame, run: RunKey) -> DataFrame:
    return frame.select(F.lit(run.run_id).alias("run_id"), F.lit(run.as_of).alias("as_of_date"),
                        *[F.col(f"`{c}`") for c in frame.columns
                          if c not in ("run_id", "as_of_date")])


def has_order_key(config: Config) -> bool:
    """An order is more than a customer's day: an order id, or `input.order_key`."""
    return config.input.columns.order_id is not None or config.input.order_key != ("date",)
