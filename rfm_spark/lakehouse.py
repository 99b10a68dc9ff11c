"""All Delta I/O: where the run tables live, how a run is written, how runs are read.

A run writes rfm_customers, rfm_segments and rfm_thresholds, each replacing that run's
rows in one Delta commit (`replaceWhere`), then its rfm_migrations rows, then marks the
run `succeeded` in rfm_runs. Readers go through `read_table`, which shows only succeeded
runs (for rfm_migrations: rows whose two runs both succeeded), so a run that failed or is
still being written is never visible, and re-running a run id replaces it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

RUN_TABLES = ("rfm_customers", "rfm_segments", "rfm_thresholds")
RUNS_TABLE = "rfm_runs"
MIGRATIONS_TABLE = "rfm_migrations"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")

RUNS_SCHEMA = (
    "run_id string, as_of_date date, status string, started_at timestamp, "
    "finished_at timestamp, config string, config_sha256 string, input_path string, "
    "input_format string, input_rows long, valid_rows long, dropped_rows long, "
    "dropped_by_reason map<string,long>, customers long, product_version string, "
    "spark_version string, delta_version string, error string, scheme_sha256 string, "
    "churn_period_days int"
)


def check_run_id(run_id: str) -> str:
    """Run ids end up in Delta predicates: only letters, digits and `_ . : -`."""
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r}: use 1-128 letters, digits, '_', '.', ':' or '-', "
                         "starting with a letter or digit")
    return run_id


@dataclasses.dataclass(frozen=True)
class Lakehouse:
    """A folder of Delta tables (`root`) or a metastore schema (`database`)."""
    root: str | None = None
    database: str | None = None

    def __post_init__(self):
        if (self.root is None) == (self.database is None):
            raise ValueError("give exactly one of a lakehouse folder or a database")
        if self.database and not DATABASE_NAME.fullmatch(self.database):
            raise ValueError(f"database {self.database!r}: use `schema` or `catalog.schema`")

    def location(self, table: str) -> str:
        return f"{self.database}.{table}" if self.database else f"{self.root.rstrip('/')}/{table}"

    def read(self, spark: SparkSession, table: str) -> DataFrame:
        if self.database:
            return spark.read.table(self.location(table))
        return spark.read.format("delta").load(self.location(table))

    def exists(self, spark: SparkSession, table: str) -> bool:
        if self.database:
            return spark.catalog.tableExists(self.location(table))
        from delta.tables import DeltaTable
        return DeltaTable.isDeltaTable(spark, self.location(table))

    def replace_run(self, frame: DataFrame, table: str, run_id: str) -> None:
        """Replace one run's rows of a table in a single atomic Delta commit."""
        # Partitioned by run: replacing a run only swaps its own files, and runs with
        # different ids can be written at the same time without conflicting.
        self._replace(frame, table, f"run_id = '{check_run_id(run_id)}'", "run_id")

    def replace_migrations(self, frame: DataFrame, from_run_id: str, to_run_id: str) -> None:
        """Replace the rfm_migrations rows of one pair of runs in one Delta commit."""
        pair = (f"from_run_id = '{check_run_id(from_run_id)}' "
                f"AND to_run_id = '{check_run_id(to_run_id)}'")
        self._replace(frame, MIGRATIONS_TABLE, pair, "to_run_id")

    def _replace(self, frame: DataFrame, table: str, rows: str, partition: str) -> None:
        # mergeSchema: tables written by an older version gain the new columns.
        writer = (frame.write.format("delta").mode("overwrite").option("replaceWhere", rows)
                  .option("mergeSchema", "true").partitionBy(partition))
        if self.database:
            writer.saveAsTable(self.location(table))
        else:
            writer.save(self.location(table))


def write_run(lakehouse: Lakehouse, run_id: str, tables: dict[str, DataFrame],
              run_record: dict, before_success: Callable[[], None] = lambda: None) -> None:
    """Writes a run's tables, calls `before_success` (which writes its migrations), then
    writes its succeeded rfm_runs row; marks the run failed on any error."""
    spark = next(iter(tables.values())).sparkSession
    if lakehouse.database and not spark.catalog.databaseExists(lakehouse.database):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {lakehouse.database}")  # name checked above
    set_run_status(spark, lakehouse, {**run_record, "status": "running"})
    try:
        for name in RUN_TABLES:
            started = time.perf_counter()
            lakehouse.replace_run(tables[name], name, run_id)
            log.info("wrote %s in %.1f s", lakehouse.location(name), time.perf_counter() - started)
        before_success()
    except Exception as error:
        set_run_status(spark, lakehouse, {**run_record, "status": "failed",
                                          "error": f"{type(error).__name__}: {error}"[:4000]})
        raise
    set_run_status(spark, lakehouse, {**run_record, "status": "succeeded"})


def set_run_status(spark: SparkSession, lakehouse: Lakehouse, record: dict) -> None:
    """Replaces the run's row of rfm_runs (one Delta commit)."""
    if record["status"] != "running":
        record = {**record, "finished_at": utc_now()}
    columns = [field.split()[0] for field in RUNS_SCHEMA.split(", ")]
    row = spark.createDataFrame([tuple(record.get(c) for c in columns)], RUNS_SCHEMA)
    lakehouse.replace_run(row, RUNS_TABLE, record["run_id"])


def utc_now() -> dt.datetime:
    """Naive UTC, as Spark stores timestamps under the UTC session time zone."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def read_table(spark: SparkSession, lakehouse: Lakehouse, table: str) -> DataFrame:
    """A run table restricted to succeeded runs: what every reader should use."""
    runs = lakehouse.read(spark, RUNS_TABLE).where(F.col("status") == "succeeded")
    if table == RUNS_TABLE:
        return runs
    rows = lakehouse.read(spark, table)
    if table == MIGRATIONS_TABLE:
        for side in ("from_run_id", "to_run_id"):
            rows = rows.join(runs.select(F.col("run_id").alias(side)), side, "left_semi")
        return rows
    return rows.join(runs.select("run_id"), "run_id", "left_semi")


@dataclasses.dataclass(frozen=True)
class RunInfo:
    run_id: str
    as_of_date: dt.date
    finished_at: dt.datetime
    scheme_sha256: str | None


def succeeded_runs(spark: SparkSession, lakehouse: Lakehouse) -> dict[str, RunInfo]:
    """The succeeded runs by id (one small read of rfm_runs; none if it does not exist)."""
    if not lakehouse.exists(spark, RUNS_TABLE):
        return {}
    rows = (read_table(spark, lakehouse, RUNS_TABLE)
            .select("run_id", "as_of_date", "finished_at", "scheme_sha256")
            .collect())  # one row per run
    return {row.run_id: RunInfo(*row) for row in rows}


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
    if not lakehouse.exists(spark, MIGRATIONS_TABLE):
        return []
    involved = (F.col("from_run_id") == run_id) | (F.col("to_run_id") == run_id)
    pairs = (lakehouse.read(spark, MIGRATIONS_TABLE).where(involved)
             .select("from_run_id", "to_run_id").distinct().collect())  # a few pairs
    return sorted((row.from_run_id, row.to_run_id) for row in pairs)


def delta_version(spark: SparkSession) -> str:
    """Version of the Delta jars in use (may differ from the Python package's)."""
    try:
        loader = spark.sparkContext._jvm.java.lang.Thread.currentThread().getContextClassLoader()
        version = loader.loadClass("io.delta.tables.DeltaTable").getPackage()
        return str(version.getImplementationVersion())
    except Exception:  # Spark Connect has no JVM handle; report the Python package instead
        from importlib.metadata import version
        return version("delta-spark")
