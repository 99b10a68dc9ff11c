"""All Delta I/O: where the run tables live, how a run is written, how runs are read.

A run writes rfm_customers, rfm_segments and rfm_thresholds, each replacing that run's
rows in one Delta commit (`replaceWhere`), then marks the run `succeeded` in rfm_runs.
Readers go through `read_table`, which shows only succeeded runs, so a run that failed
or is still being written is never visible, and re-running a run id replaces it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

RUN_TABLES = ("rfm_customers", "rfm_segments", "rfm_thresholds")
RUNS_TABLE = "rfm_runs"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")

RUNS_SCHEMA = (
    "run_id string, as_of_date date, status string, started_at timestamp, "
    "finished_at timestamp, config string, config_sha256 string, input_path string, "
    "input_format string, input_rows long, valid_rows long, dropped_rows long, "
    "dropped_by_reason map<string,long>, customers long, product_version string, "
    "spark_version string, delta_version string, error string"
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

    def replace_run(self, frame: DataFrame, table: str, run_id: str) -> None:
        """Replace one run's rows of a table in a single atomic Delta commit."""
        writer = (frame.write.format("delta").mode("overwrite")
                  .option("replaceWhere", f"run_id = '{check_run_id(run_id)}'"))
        # Partitioned by run: replacing a run only swaps its own files, and runs with
        # different ids can be written at the same time without conflicting.
        writer = writer.partitionBy("run_id")
        if self.database:
            writer.saveAsTable(self.location(table))
        else:
            writer.save(self.location(table))


def write_run(lakehouse: Lakehouse, run_id: str, tables: dict[str, DataFrame],
              run_record: dict) -> None:
    """Writes a run's tables, then its succeeded rfm_runs row; marks it failed on error."""
    spark = next(iter(tables.values())).sparkSession
    if lakehouse.database and not spark.catalog.databaseExists(lakehouse.database):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {lakehouse.database}")  # name checked above
    set_run_status(spark, lakehouse, {**run_record, "status": "running"})
    try:
        for name in RUN_TABLES:
            started = time.perf_counter()
            lakehouse.replace_run(tables[name], name, run_id)
            log.info("wrote %s in %.1f s", lakehouse.location(name), time.perf_counter() - started)
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
    return lakehouse.read(spark, table).join(runs.select("run_id"), "run_id", "left_semi")


def delta_version(spark: SparkSession) -> str:
    """Version of the Delta jars in use (may differ from the Python package's)."""
    try:
        loader = spark.sparkContext._jvm.java.lang.Thread.currentThread().getContextClassLoader()
        version = loader.loadClass("io.delta.tables.DeltaTable").getPackage()
        return str(version.getImplementationVersion())
    except Exception:  # Spark Connect has no JVM handle; report the Python package instead
        from importlib.metadata import version
        return version("delta-spark")
