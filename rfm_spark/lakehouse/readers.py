"""What readers see: only the rows of each run's succeeded attempt (rows of
rfm_migrations: computed from both runs' succeeded attempts), and of each campaign's
current draw. `read_table` is that for Python; with a database, the `v_<table>` views
are that for SQL. Churn scores are visible through their model's row; the basket
tables, replaced in one commit per run, whole.

A table that does not exist yet (or was left without a commit by a job killed while
creating it) reads as empty, in its declared columns.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark.errors import ConfigError
from rfm_spark.lakehouse.storage import Lakehouse
from rfm_spark.tables import (ATTEMPT, BASKET_EVALUATION, BASKET_RULES, CAMPAIGN_MEMBERS,
                              CAMPAIGN_RESULTS, CAMPAIGNS, CHURN_MODELS, CHURN_SCORES,
                              MIGRATIONS, PARTITION_ROLES, RECOMMENDATIONS, RUNS, TABLES)

MIGRATION_ATTEMPTS = ("from_attempt_id", "to_attempt_id")
DRAWN = (CAMPAIGN_MEMBERS.name, CAMPAIGN_RESULTS.name)  # visible through rfm_campaigns' draw
VIEW_PREFIX = "v_"
# Replaced whole per run (and level or holdout) in one commit: every stored row is visible.
WHOLE = (BASKET_RULES.name, RECOMMENDATIONS.name, BASKET_EVALUATION.name)


def stored(spark: SparkSession, lakehouse: Lakehouse, table: str) -> DataFrame:
    """Every stored row of a table (all attempts), or none in its declared columns."""
    if lakehouse.exists(spark, table):
        return lakehouse.read(spark, table)
    return spark.createDataFrame([], TABLES[table].ddl(TABLES[table].layout()))


def read_table(spark: SparkSession, lakehouse: Lakehouse, table: str) -> DataFrame:
    """A table as the runs' succeeded attempts wrote it: what every reader should use.
    Rows written before attempt ids existed have none (NULL), and match. Campaign
    tables: the rows of each campaign's current draw. Churn scores: those of a model
    whose rfm_churn_models row was written (its last step)."""
    if table in (CAMPAIGNS.name, CHURN_MODELS.name) or table in WHOLE:
        return stored(spark, lakehouse, table)
    if table == CHURN_SCORES.name:
        models = stored(spark, lakehouse, CHURN_MODELS.name).select("model_id")
        return stored(spark, lakehouse, table).join(models, "model_id", "left_semi")
    if table in DRAWN:
        current = stored(spark, lakehouse, CAMPAIGNS.name).select("campaign_id", "draw_id")
        return stored(spark, lakehouse, table).join(current, ["campaign_id", "draw_id"],
                                                    "left_semi")
    runs = stored(spark, lakehouse, RUNS.name).where(F.col("status") == "succeeded")
    if table == RUNS.name:
        return runs
    rows = stored(spark, lakehouse, table)
    if table == MIGRATIONS.name:
        for side, attempt in zip(("from", "to"), MIGRATION_ATTEMPTS):
            rows = _of_succeeded_attempts(rows, runs, f"{side}_run_id", attempt)
        return rows.drop(*MIGRATION_ATTEMPTS)
    return _of_succeeded_attempts(rows, runs, "run_id", ATTEMPT).drop(ATTEMPT)


def _of_succeeded_attempts(rows: DataFrame, runs: DataFrame, run_column: str,
                           attempt_column: str) -> DataFrame:
    succeeded = runs.select(F.col("run_id").alias("_run"), F.col(ATTEMPT).alias("_attempt"))
    return rows.join(succeeded, (F.col(run_column) == F.col("_run"))
                     & F.col(attempt_column).eqNullSafe(F.col("_attempt")), "left_semi")


def view_sql(lakehouse: Lakehouse, table: str, columns: list[str]) -> str:
    """The SELECT of `v_<table>`: `read_table` in SQL, over the table's `columns`."""
    runs = f"(SELECT run_id, {ATTEMPT} FROM {lakehouse.ref(RUNS.name)} WHERE status = 'succeeded')"
    if table == RUNS.name:
        return f"SELECT * FROM {lakehouse.ref(RUNS.name)} WHERE status = 'succeeded'"
    if table in (CAMPAIGNS.name, CHURN_MODELS.name) or table in WHOLE:
        return f"SELECT * FROM {lakehouse.ref(table)}"
    shown = ", ".join(f"t.`{c}`" for c in columns if c not in (ATTEMPT, *MIGRATION_ATTEMPTS))
    if table in DRAWN:
        joins = (f"LEFT SEMI JOIN {lakehouse.ref(CAMPAIGNS.name)} c "
                 "ON t.campaign_id = c.campaign_id AND t.draw_id = c.draw_id")
    elif table == CHURN_SCORES.name:
        joins = (f"LEFT SEMI JOIN {lakehouse.ref(CHURN_MODELS.name)} m "
                 "ON t.model_id = m.model_id")
    elif table == MIGRATIONS.name:
        joins = " ".join(f"LEFT SEMI JOIN {runs} {side} ON t.{side}_run_id = {side}.run_id "
                         f"AND t.{side}_attempt_id <=> {side}.{ATTEMPT}"
                         for side in ("from", "to"))
    else:
        joins = (f"LEFT SEMI JOIN {runs} r ON t.run_id = r.run_id "
                 f"AND t.{ATTEMPT} <=> r.{ATTEMPT}")
    return f"SELECT {shown} FROM {lakehouse.ref(table)} t {joins}"


@dataclasses.dataclass(frozen=True)
class RunInfo:
    run_id: str
    as_of_date: dt.date
    finished_at: dt.datetime
    scheme_sha256: str | None
    attempt_id: str | None = None  # None for runs written before attempt ids existed


def succeeded_runs(spark: SparkSession, lakehouse: Lakehouse) -> dict[str, RunInfo]:
    """The succeeded runs by id (one small read of rfm_runs)."""
    rows = (read_table(spark, lakehouse, RUNS.name)
            .select("run_id", "as_of_date", "finished_at", "scheme_sha256", ATTEMPT)
            .collect())  # one row per run
    return {row.run_id: RunInfo(*row) for row in rows}


def succeeded_run(spark: SparkSession, lakehouse: Lakehouse, run_id: str) -> RunInfo:
    """The succeeded run `run_id`; ConfigError naming the table when there is none."""
    runs = succeeded_runs(spark, lakehouse)
    if run_id not in runs:
        raise ConfigError(f"{lakehouse.location(RUNS.name)}: no succeeded run {run_id!r}")
    return runs[run_id]


def run_config(spark: SparkSession, lakehouse: Lakehouse, run: RunInfo) -> str:
    """The resolved YAML config the run was made with (rfm_runs.config)."""
    return (read_table(spark, lakehouse, RUNS.name).where(F.col("run_id") == run.run_id)
            .select("config").first()[0])  # one row


def refuse_partitioned(rows: DataFrame, run: RunInfo, why: str) -> None:
    """ConfigError when the run's rows were graded per partition (`grading.partition_by`):
    `why` says what needs one code per customer. Reads one row at most."""
    partitioned = [role for role in PARTITION_ROLES if role in rows.columns]
    if partitioned and rows.where(F.col(partitioned[0]).isNotNull()).limit(1).count():
        raise ConfigError(f"run {run.run_id} was graded per {partitioned[0]} "
                          f"(grading.partition_by): {why}, so it needs a run graded over all "
                          "customers")


def refuse_other_scheme(run: RunInfo, scheme_sha256: str, why: str) -> None:
    """ConfigError when the run was graded by other rules than the config's (its
    `scheme_sha256` differs): `why` says what grades past dates again."""
    if run.scheme_sha256 is not None and run.scheme_sha256 != scheme_sha256:
        raise ConfigError(f"run {run.run_id} was graded with other grading or segment rules "
                          f"than this config's, and {why}: give the config the run was "
                          "made with")


def run_rows(spark: SparkSession, lakehouse: Lakehouse, table: str, run: RunInfo) -> DataFrame:
    """A run table's rows of one run's succeeded attempt (`run` from `succeeded_runs`)."""
    of_run = ((F.col("run_id") == run.run_id)
              & F.col(ATTEMPT).eqNullSafe(F.lit(run.attempt_id).cast("string")))
    return stored(spark, lakehouse, table).where(of_run).drop(ATTEMPT)


def previous_run(runs: dict[str, RunInfo], run_id: str, as_of: dt.date, scheme_sha256: str
                 ) -> RunInfo | None:
    """The run of the same scheme with the latest as-of date before `as_of` (the latest
    finished among equals): what a new run's migrations start from."""
    earlier = [run for run in runs.values() if run.scheme_sha256 == scheme_sha256
               and run.as_of_date < as_of and run.run_id != run_id]
    return max(earlier, key=lambda run: (run.as_of_date, run.finished_at, run.run_id),
               default=None)


def migration_pairs(spark: SparkSession, lakehouse: Lakehouse, run_id: str
                    ) -> list[tuple[str, str]]:
    """(from, to) run ids of the stored migrations that involve `run_id`, whatever the
    state of either run: a re-run must recompute all of them."""
    involved = (F.col("from_run_id") == run_id) | (F.col("to_run_id") == run_id)
    pairs = (stored(spark, lakehouse, MIGRATIONS.name).where(involved)
             .select("from_run_id", "to_run_id").distinct().collect())  # a few pairs
    return sorted((row.from_run_id, row.to_run_id) for row in pairs)
