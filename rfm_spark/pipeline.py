"""The segmentation run: read -> clean -> aggregate, then the steps of `steps.py`, for one
as-of date (`run_segmentation`) or many from one pass over the input (`run_backfill`);
and migrations between stored runs."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from typing import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import fingerprint, lakehouse as lh, names
from rfm_spark.clean import flag_as_of, flag_rejects
from rfm_spark.config import Config
from rfm_spark.errors import ConfigError
from rfm_spark.logs import stage
from rfm_spark.metrics import aggregate_customers, aggregate_daily, snapshot_aggregate, used_rows
from rfm_spark.migration import transitions
from rfm_spark.pseudonymise import pseudonymise, pseudonymisation_key
from rfm_spark.quality import QualityRow, quality_aggregate
from rfm_spark.read import read_source, select_roles, session_settings, to_transactions
from rfm_spark.session import Caches, caching, settings
from rfm_spark.tables import MIGRATIONS
from rfm_spark.steps import (Prepared, RunContext, RunKey, RunResult, Source, churn_period,
                             count_rows, default_run_id, grade_customers, has_order_key,
                             report_quality, resolve_as_of, run_record, run_tables, write,
                             write_report)

log = logging.getLogger(__name__)
__all__ = ["History", "RunResult", "history", "migrate", "migration_between", "reading",
           "run_backfill", "run_segmentation"]


def run_segmentation(spark: SparkSession, config: Config, source: str | DataFrame | None = None,
                     *, run_id: str | None = None, write: bool = True, force: bool = False
                     ) -> RunResult:
    """Segments `source` (a path, a DataFrame in the source's own columns, or by default
    `input.path`) and, when `write` and an output is configured, writes the run to Delta.
    A run id written from other input is only replaced with `force`."""
    started_at = lh.utc_now()
    if run_id is not None:
        names.check_run_id(run_id)
    with settings(spark, session_settings(config.input), f"to read {config.input.csv.encoding}"):
        ctx = _context(spark, config, source, write, force)
        transactions = _transactions(ctx)
        as_of = config.metrics.as_of
        if as_of is None and (config.clean.lookback_days is not None
                              or config.clean.cancellations == "net"):
            # The lookback needs it first; a netted cancellation after the last purchase
            # still moves the as-of date, which the customer aggregate does not show.
            as_of = _last_valid_date(transactions, config)
        flagged = _flagged(transactions, ctx, as_of)
        prepared = Prepared(
            aggregate_customers(flagged, has_order_key(config), config.grading.partition_by),
            used_rows(flagged), flagged,
            quality_aggregate(flagged, ("store",)) if _store_outside_partitions(config) else None)
        return _segment(ctx, prepared, as_of, run_id, started_at)


def run_backfill(spark: SparkSession, config: Config, as_of_dates: list[dt.date],
                 source: str | DataFrame | None = None, *, write: bool = True,
                 force: bool = False) -> list[RunResult]:
    """One run per as-of date, oldest first, each equal to `run_segmentation` with that
    `metrics.as_of`. The input is read and aggregated per customer and day once; each
    date's run starts from that much smaller table. The results' frames are not cached."""
    if not as_of_dates:
        raise ConfigError("no as-of dates to backfill")
    with history(spark, config, source, write=write, force=force) as past:
        results = []
        for as_of in sorted(set(as_of_dates)):
            result = past.segment(as_of)
            if caching(spark):
                result.customers.unpersist()
            results.append(result)
    return results


@dataclasses.dataclass(frozen=True)
class History:
    """The input read once and aggregated per customer and day (`daily`, cached while
    the `history` block runs), from which a run at any as-of date is computed."""
    ctx: RunContext
    flagged: DataFrame
    daily: DataFrame

    def segment(self, as_of: dt.date) -> RunResult:
        """The run at `as_of`, as `run_segmentation` would make it (written when the
        history was opened with `write`)."""
        dated = dataclasses.replace(self.ctx, config=self.ctx.config.with_as_of(as_of))
        return _segment(dated, _as_of(self.daily, self.flagged, dated.config, as_of), as_of,
                        None, lh.utc_now())


@contextlib.contextmanager
def history(spark: SparkSession, config: Config, source: str | DataFrame | None = None, *,
            write: bool = False, force: bool = False, also_by: tuple[str, ...] = (),
            items: bool = False) -> Iterator[History]:
    """Reads and aggregates the input per customer and day (and per partition, store and
    the `also_by` roles), cached for the block; with `items`, the flagged rows have the
    item (`input.columns.item`)."""
    if config.grading.monetary.of == "orders" and has_order_key(config):
        raise ConfigError("runs from the per-customer-day aggregate (backfill, churn) keep "
                          "amounts per customer and day, not per order id: "
                          "grading.monetary.of: orders needs an order to be a day here")
    with settings(spark, session_settings(config.input), f"to read {config.input.csv.encoding}"):
        ctx = _context(spark, config, source, write, force, items)
        store = ("store",) if _store_outside_partitions(config) else ()
        by = tuple(dict.fromkeys(config.grading.partition_by + store + also_by))
        with Caches(spark) as cache:
            with stage("clean + aggregate per customer and day") as counts:
                flagged = _flagged(_transactions(ctx), ctx, None)
                daily = cache(aggregate_daily(flagged, has_order_key(config), by))
                counts["customer_days"] = daily.count()
            yield History(ctx, flagged, daily)


@dataclasses.dataclass(frozen=True)
class CleanInput:
    flagged: DataFrame                 # transactions with reject_reason and netted
    rows_by_reason: dict[str, int]     # reject reason (or "used") -> rows
    last_used_date: dt.date | None     # the latest purchase date of a used row


@contextlib.contextmanager
def reading(spark: SparkSession, config: Config, source: str | DataFrame | None = None,
            *, items: bool = False) -> Iterator[CleanInput]:
    """The input read and flagged exactly as a run reads it (no as-of date: every row
    keeps its reject reason or none), for jobs that read transactions beside a run;
    use it inside the block, where the session reads as the input needs. One pass
    counts the rows per reject reason (logged) and finds the last used date. With
    `items`, the rows have the item (`input.columns.item`)."""
    with settings(spark, session_settings(config.input), f"to read {config.input.csv.encoding}"):
        ctx = _context(spark, config, source, write=False, force=False, items=items)
        flagged = _flagged(_transactions(ctx), ctx, None)
        with stage("read + clean") as counts:
            summary = (flagged.groupBy("reject_reason")
                       .agg(F.count(F.lit(1)).alias("rows"),
                            F.max("purchase_date").alias("last_date"))
                       .collect())  # one row per reject reason
            by_reason = {row.reject_reason or "used": row.rows for row in summary}
            counts.update(by_reason)
        last_used = next((row.last_date for row in summary if row.reject_reason is None), None)
        yield CleanInput(flagged, by_reason, last_used)


def _as_of(daily: DataFrame, flagged: DataFrame, config: Config, as_of: dt.date) -> Prepared:
    """What one date's run starts from, derived from the per-customer-day aggregate."""
    daily_as_of = flag_as_of(daily, config.clean, as_of)
    store = ("store",) if _store_outside_partitions(config) else ()
    return Prepared(snapshot_aggregate(daily, as_of, config.clean, config.grading.partition_by),
                    used_rows(daily_as_of), flag_as_of(flagged, config.clean, as_of),
                    quality_aggregate(daily_as_of, store) if store else None)


def _segment(ctx: RunContext, prepared: Prepared, as_of: dt.date | None, run_id: str | None,
             started_at: dt.datetime) -> RunResult:
    """From per-customer aggregates to a written run, step by step."""
    with Caches(ctx.spark) as cache:
        aggregate = cache(prepared.aggregate)
        counts, totals = count_rows(ctx, aggregate, as_of)
        quality = report_quality(ctx, prepared, aggregate, totals, cache)
        as_of = resolve_as_of(totals, as_of)
        run = RunKey(run_id or default_run_id(ctx.config, as_of), as_of)
        log.info("run %s, as of %s", run.run_id, run.as_of)
        churn_days = churn_period(ctx, prepared.used)
        graded = grade_customers(ctx, aggregate, prepared.used, run, churn_days, cache)
    quality.append(QualityRow("customers", "graded", graded.count))
    tables = run_tables(ctx, graded, prepared.flagged, counts, quality, run)
    migrations, report = [], None
    if ctx.target is not None:
        record = run_record(ctx, run, counts, graded.count, churn_days, started_at)
        migrations = write(ctx, run, tables, record)
        if ctx.config.output.report:
            report = write_report(ctx, run)
    else:
        log.info("no output configured (output.lakehouse / output.database): nothing written")
    return RunResult(run.run_id, run.as_of, tables["rfm_customers"], tables["rfm_segments"],
                     tables["rfm_thresholds"], tables["rfm_rejects"], quality,
                     counts.input_rows, counts.valid_rows, counts.by_reason, graded.count,
                     ctx.target, migrations, tables.get("rfm_upgrade_simulation"), report)


def migration_between(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str,
                      to_run_id: str) -> DataFrame:
    """rfm_migrations rows from one succeeded run to another, computed, not written."""
    return _migration(spark, lakehouse, *_succeeded_pair(spark, lakehouse, from_run_id,
                                                         to_run_id))


def migrate(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str, to_run_id: str
            ) -> DataFrame:
    """Writes (replaces) the rfm_migrations rows from one succeeded run to another and
    returns them as stored."""
    from_run, to_run = _succeeded_pair(spark, lakehouse, names.check_run_id(from_run_id),
                                       names.check_run_id(to_run_id))
    rows = _migration(spark, lakehouse, from_run, to_run).select(
        "*", F.lit(from_run.attempt_id).cast("string").alias("from_attempt_id"),
        F.lit(to_run.attempt_id).cast("string").alias("to_attempt_id"))
    pair = (f"from_run_id = {names.sql_string(from_run_id)} "
            f"AND to_run_id = {names.sql_string(to_run_id)}")
    lakehouse.ensure(spark, MIGRATIONS, MIGRATIONS.layout())
    lakehouse.replace(rows, "rfm_migrations", pair)
    return lh.read_table(spark, lakehouse, "rfm_migrations").where(
        (F.col("from_run_id") == from_run_id) & (F.col("to_run_id") == to_run_id))


def _succeeded_pair(spark: SparkSession, lakehouse: lh.Lakehouse, from_run_id: str,
                    to_run_id: str) -> tuple[lh.RunInfo, lh.RunInfo]:
    runs = lh.succeeded_runs(spark, lakehouse)
    missing = [run_id for run_id in (from_run_id, to_run_id) if run_id not in runs]
    if missing:
        raise ConfigError(f"{lakehouse.location('rfm_runs')}: no succeeded run "
                          f"{', '.join(map(repr, missing))}")
    return runs[from_run_id], runs[to_run_id]


def _migration(spark: SparkSession, lakehouse: lh.Lakehouse, from_run: lh.RunInfo,
               to_run: lh.RunInfo) -> DataFrame:
    """rfm_migrations rows between the succeeded attempts of two runs."""
    return transitions(lh.run_rows(spark, lakehouse, "rfm_customers", from_run),
                       lh.run_rows(spark, lakehouse, "rfm_customers", to_run),
                       (from_run.run_id, from_run.as_of_date), (to_run.run_id, to_run.as_of_date))


def _context(spark: SparkSession, config: Config, source: str | DataFrame | None, write: bool,
             force: bool, items: bool = False) -> RunContext:
    """The run's input checked and fingerprinted, its path as Spark resolves it (so `/x`
    and `file:/x` make the same run id), and where it is written."""
    source = config.input.path if source is None else source
    if source is None:
        raise ConfigError("no input: pass a path or DataFrame, or set input.path")
    if isinstance(source, str):
        snapshot = fingerprint.snapshot(spark, source, config.input.format)
        config = config.with_input_path(snapshot.qualified)
        found = Source(path=source, snapshot=snapshot)
    else:
        config = config.with_input_path(None)
        found = Source(frame=source)
    return RunContext(spark, config, found, _lakehouse(config) if write else None, force, items)


def _transactions(ctx: RunContext) -> DataFrame:
    source, columns = ctx.source, ctx.config.input
    with stage("read") as counts:
        if source.frame is not None:
            raw = select_roles(source.frame, columns.columns, "the input DataFrame",
                               items=ctx.items)
        else:
            raw = read_source(ctx.spark, source.path, columns, source.snapshot.delta_version,
                              items=ctx.items)
        counts["columns"] = ", ".join(raw.columns)
    zone = ctx.spark.conf.get("spark.sql.session.timeZone")
    return to_transactions(raw, columns.date_format, columns.csv.decimal, columns.timezone, zone)


def _flagged(transactions: DataFrame, ctx: RunContext, as_of: dt.date | None) -> DataFrame:
    config = ctx.config
    flagged = flag_rejects(transactions, config.clean, as_of).transform(_with_order_key, config)
    if config.input.pseudonymise.enabled:  # after the rules that read the ids
        flagged = pseudonymise(flagged, pseudonymisation_key(config.input.pseudonymise))
    return flagged


def _with_order_key(flagged: DataFrame, config: Config) -> DataFrame:
    """Without an order id, `input.order_key` roles other than the date make the order
    id (H&M: a customer's purchases on one day in one channel are one order)."""
    roles = config.input.order_key
    if config.input.columns.order_id is not None or roles == ("date",):
        return flagged
    parts = [F.col("purchase_date" if role == "date" else role).cast("string") for role in roles]
    return flagged.withColumn("order_id", F.concat_ws("|", *parts))


def _store_outside_partitions(config: Config) -> bool:
    """The quality report's per-store shares need the store, which the customer
    aggregate only has when grading is partitioned by it."""
    return (config.input.columns.store is not None
            and "store" not in config.grading.partition_by)


def _lakehouse(config: Config) -> lh.Lakehouse | None:
    output = config.output
    if output.lakehouse is None and output.database is None:
        return None
    return lh.Lakehouse(root=output.lakehouse if output.database is None else None,
                        database=output.database)


def _last_valid_date(transactions: DataFrame, config: Config) -> dt.date | None:
    usable = flag_rejects(transactions, config.clean, None).where(F.col("reject_reason").isNull())
    return usable.agg(F.max("purchase_date")).first()[0]  # one row
