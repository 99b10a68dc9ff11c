"""All Delta I/O: where the run tables live, how a run is written, how runs are read.

Runs never half-exist. Each `write_run` call is an attempt with its own id (uuid4 hex):
it claims the run id in rfm_runs (a `running` row with its attempt id; the newest claim
wins, so a re-run takes over from a crashed attempt), writes its rows of every run table
tagged with its attempt id (one Delta commit per table, replacing only its own rows),
its rfm_migrations rows, and then marks the run `succeeded` only if the claim is still
its own (a conditional MERGE). An attempt that was taken over meanwhile deletes its rows
and raises `RunConflictError`; after a success, the rows of the run's other attempts are
deleted. Readers go through `read_table`, which shows only the rows of each run's
succeeded attempt (for rfm_migrations: rows whose two runs' succeeded attempts they were
computed from), so a run that failed, is being written or lost a race is never visible.

Delta detects conflicting commits conservatively (two attempts of one run write the same
partition), so every write retries on Delta's concurrent-modification errors; and a
re-run of a run id from other input (`fingerprint.py`) is refused unless forced.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import random
import re
import time
import uuid
from typing import Callable, TypeVar

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import fingerprint

log = logging.getLogger(__name__)

RUN_TABLES = ("rfm_customers", "rfm_segments", "rfm_thresholds", "rfm_rejects", "rfm_quality")
RUNS_TABLE = "rfm_runs"
MIGRATIONS_TABLE = "rfm_migrations"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
ATTEMPT_COLUMN = "attempt_id"  # of every run table row and of rfm_runs
MIGRATION_ATTEMPT_COLUMNS = ("from_attempt_id", "to_attempt_id")
_ATTEMPT_ID = re.compile(r"[0-9a-f]{32}")

RUNS_SCHEMA = (
    "run_id string, as_of_date date, status string, started_at timestamp, "
    "finished_at timestamp, config string, config_sha256 string, input_path string, "
    "input_format string, input_rows long, valid_rows long, dropped_rows long, "
    "dropped_by_reason map<string,long>, customers long, product_version string, "
    "spark_version string, delta_version string, error string, scheme_sha256 string, "
    "churn_period_days int, attempt_id string, input_fingerprint string"
)

# Delta's concurrent-modification errors, by class name or error class, however they
# arrive (a Py4JJavaError, or delta.exceptions' classes once that module is imported);
# and a metastore table created by another job between our check and our create.
_WRITE_CONFLICT = re.compile(
    r"Concurrent(Append|DeleteRead|DeleteDelete|Transaction|Write)Exception"
    r"|(MetadataChanged|ProtocolChanged|DeltaConcurrentModification)Exception"
    r"|DELTA_CONCURRENT_\w+|TABLE_OR_VIEW_ALREADY_EXISTS")
_COMMIT_TRIES = 8
T = TypeVar("T")


class RunConflictError(ValueError):
    """Another attempt claimed the run while this one was writing it."""


class InputChangedError(ValueError):
    """The run id was written from other input; replacing it needs `force`."""


def check_run_id(run_id: str) -> str:
    """Run ids end up in Delta predicates: only letters, digits and `_ . : -`."""
    if not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r}: use 1-128 letters, digits, '_', '.', ':' or '-', "
                         "starting with a letter or digit")
    return run_id


def check_attempt_id(attempt_id: str) -> str:
    if not _ATTEMPT_ID.fullmatch(attempt_id):
        raise ValueError(f"attempt id {attempt_id!r}: expected 32 hex digits")
    return attempt_id


def write_conflict(error: BaseException) -> str | None:
    """The name of the concurrent-modification error `error` is, if it is one."""
    found = _WRITE_CONFLICT.search(f"{type(error).__name__}: {error}")
    return found.group(0) if found else None


def retry_on_conflict(commit: Callable[[], T], what: str) -> T:
    """Runs a Delta commit again when a concurrent commit made it fail. Delta checks
    conflicts per partition and conservatively: two attempts of one run write the same
    run_id partition, and two jobs creating a table at once collide on its first commit.
    Each commit here is idempotent (it replaces or deletes the same rows), so it is safe
    to run again on the table's new state."""
    for try_number in range(1, _COMMIT_TRIES):
        try:
            return commit()
        except Exception as error:
            conflict = write_conflict(error)
            if conflict is None:
                raise
            pause = min(8.0, 0.25 * 2 ** try_number) * random.uniform(0.5, 1.0)  # spread out
            log.info("%s: %s from a concurrent commit; trying again in %.1f s", what, conflict,
                     pause)
            time.sleep(pause)
    return commit()  # the last try: a conflict now is the caller's


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

    def delta_table(self, spark: SparkSession, table: str):
        from delta.tables import DeltaTable
        if self.database:
            return DeltaTable.forName(spark, self.location(table))
        return DeltaTable.forPath(spark, self.location(table))

    def replace_run(self, frame: DataFrame, table: str, run_id: str) -> None:
        """Replace all of one run's rows of a table in a single atomic Delta commit."""
        # Partitioned by run: replacing a run only swaps its own files, and runs with
        # different ids can be written at the same time without conflicting.
        self._replace(frame, table, f"run_id = '{check_run_id(run_id)}'", "run_id")

    def replace_attempt(self, frame: DataFrame, table: str, run_id: str, attempt_id: str
                        ) -> None:
        """Replace one attempt's rows of a run table in one Delta commit, the rows tagged
        with the attempt id; other attempts' rows of the run stay (until cleanup)."""
        rows = (f"run_id = '{check_run_id(run_id)}' "
                f"AND {ATTEMPT_COLUMN} = '{check_attempt_id(attempt_id)}'")
        self._replace(frame.withColumn(ATTEMPT_COLUMN, F.lit(attempt_id)), table, rows, "run_id")

    def replace_migrations(self, frame: DataFrame, from_run_id: str, to_run_id: str,
                           attempts: tuple[str | None, str | None]) -> None:
        """Replace the rfm_migrations rows of one pair of runs in one Delta commit (one
        copy per pair), tagged with the attempts of the two runs they were computed from:
        they are visible only while those are the runs' succeeded attempts."""
        pair = (f"from_run_id = '{check_run_id(from_run_id)}' "
                f"AND to_run_id = '{check_run_id(to_run_id)}'")
        tagged = frame.select("*", *[F.lit(attempt).cast("string").alias(column)
                                     for column, attempt in zip(MIGRATION_ATTEMPT_COLUMNS,
                                                                attempts)])
        self._replace(tagged, MIGRATIONS_TABLE, pair, "to_run_id")

    def delete_rows(self, spark: SparkSession, table: str, rows: Column) -> None:
        """Delete rows of a table in one Delta commit."""
        retry_on_conflict(lambda: self.delta_table(spark, table).delete(rows),
                          f"delete from {self.location(table)}")

    def _replace(self, frame: DataFrame, table: str, rows: str, partition: str) -> None:
        # mergeSchema: tables written by an older version gain the new columns.
        writer = (frame.write.format("delta").mode("overwrite").option("replaceWhere", rows)
                  .option("mergeSchema", "true").partitionBy(partition))
        location = self.location(table)
        retry_on_conflict(lambda: writer.saveAsTable(location) if self.database
                          else writer.save(location), f"write {location}")


def write_run(lakehouse: Lakehouse, run_id: str, tables: dict[str, DataFrame],
              run_record: dict, before_success: Callable[[str], None] = lambda attempt_id: None,
              *, input_fingerprint: str | None = None, force: bool = False) -> str:
    """Writes one attempt at a run and returns its attempt id: claims the run id in
    rfm_runs, writes the attempt's rows of each of `tables`, calls `before_success` with
    the attempt id (it writes the run's migrations), marks the run succeeded if the claim
    is still this attempt's, then deletes the run's other attempts.

    Raises InputChangedError, before writing anything, when the run id was written from
    another input and not `force`; RunConflictError when another attempt claimed the run
    meanwhile (this attempt's rows are deleted); on any other error, marks the run failed
    (if still claimed) and re-raises."""
    spark = next(iter(tables.values())).sparkSession
    if lakehouse.database and not spark.catalog.databaseExists(lakehouse.database):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {lakehouse.database}")  # name checked above
    written_before = check_input_unchanged(spark, lakehouse, run_id, input_fingerprint, force)
    attempt_id = uuid.uuid4().hex
    record = {**run_record, "run_id": run_id, ATTEMPT_COLUMN: attempt_id,
              "input_fingerprint": input_fingerprint}
    # The claim replaces the run's row whatever attempt held it: the newest claim wins, so
    # a re-run takes over from an attempt that crashed and left its claim `running`.
    set_run_status(spark, lakehouse, {**record, "status": "running"})
    log.info("run %s: attempt %s claimed it", run_id, attempt_id)
    try:
        for name, frame in tables.items():
            started = time.perf_counter()
            lakehouse.replace_attempt(frame, name, run_id, attempt_id)
            log.info("wrote %s in %.1f s", lakehouse.location(name), time.perf_counter() - started)
        holder = claim_holder(spark, lakehouse, run_id)
        if holder != attempt_id:  # a lost attempt must not replace the winner's migrations
            raise _taken_over(run_id, holder, attempt_id)
        before_success(attempt_id)
        if not _update_if_claimed(spark, lakehouse, {**record, "status": "succeeded"}):
            raise _taken_over(run_id, claim_holder(spark, lakehouse, run_id), attempt_id)
    except RunConflictError:
        _delete_attempt(spark, lakehouse, run_id, attempt_id, list(tables))
        raise
    except Exception as error:
        _mark_failed(spark, lakehouse, record, error)
        raise
    log.info("run %s: attempt %s succeeded", run_id, attempt_id)
    # Every attempt claims before it writes: with no claim before ours, no rows but ours
    # (a later claim makes ours lose instead).
    if written_before:
        _delete_other_attempts(spark, lakehouse, run_id, attempt_id, list(tables))
    return attempt_id


def check_input_unchanged(spark: SparkSession, lakehouse: Lakehouse, run_id: str,
                          input_fingerprint: str | None, force: bool = False) -> bool:
    """Refuses (InputChangedError) to replace a run written from other input, unless
    `force`: a run id names one result, which a re-run repeats but must not silently
    change. Compares only when both the stored run and this one read a path. Returns
    whether rfm_runs has a row for the run id (any status)."""
    if not lakehouse.exists(spark, RUNS_TABLE):
        return False
    stored = [row.input_fingerprint for row in _with_columns(
        lakehouse.read(spark, RUNS_TABLE), ["input_fingerprint"]).where(
        F.col("run_id") == run_id).select("input_fingerprint").collect()]  # one row per run
    if force or input_fingerprint is None:
        return bool(stored)
    if stored and stored[0] is not None and not fingerprint.same_input(stored[0],
                                                                       input_fingerprint):
        raise InputChangedError(
            f"run {run_id} was written from other input ({fingerprint.description(stored[0])};"
            f" now {fingerprint.description(input_fingerprint)}); re-run with --force "
            "(force=True) to replace it")
    return bool(stored)


def set_run_status(spark: SparkSession, lakehouse: Lakehouse, record: dict) -> None:
    """Replaces the run's row of rfm_runs, whichever attempt it held (one Delta commit)."""
    lakehouse.replace_run(_runs_row(spark, record), RUNS_TABLE, record["run_id"])


def claim_holder(spark: SparkSession, lakehouse: Lakehouse, run_id: str) -> str | None:
    """The attempt id in the run's row of rfm_runs: the attempt that last claimed it."""
    rows = (_with_columns(lakehouse.read(spark, RUNS_TABLE), [ATTEMPT_COLUMN])
            .where(F.col("run_id") == run_id).select(ATTEMPT_COLUMN).collect())  # one row
    return rows[0][0] if rows else None


def _runs_row(spark: SparkSession, record: dict) -> DataFrame:
    if record["status"] != "running":
        record = {**record, "finished_at": utc_now()}
    columns = [field.split()[0] for field in RUNS_SCHEMA.split(", ")]
    return spark.createDataFrame([tuple(record.get(c) for c in columns)], RUNS_SCHEMA)


def _update_if_claimed(spark: SparkSession, lakehouse: Lakehouse, record: dict) -> bool:
    """Replaces the run's rfm_runs row with `record` only if the row still holds this
    attempt's claim, in one Delta commit (a MERGE); whether it did. A claim committed
    by another attempt in the meantime makes the MERGE conflict, and its retry match
    nothing."""
    row = _runs_row(spark, record)
    # The run id as a literal lets Delta read (and conflict on) the run's partition only.
    claimed = (f"t.run_id = '{check_run_id(record['run_id'])}' "
               f"AND t.{ATTEMPT_COLUMN} = s.{ATTEMPT_COLUMN}")

    def merge():
        return (lakehouse.delta_table(spark, RUNS_TABLE).alias("t")
                .merge(row.alias("s"), claimed)
                .whenMatchedUpdate(set={column: f"s.`{column}`" for column in row.columns})
                .execute().first())  # the MERGE's row counts

    counts = retry_on_conflict(merge, f"mark run {record['run_id']} {record['status']}")
    return counts.num_updated_rows == 1


def _mark_failed(spark: SparkSession, lakehouse: Lakehouse, record: dict, error: Exception
                 ) -> None:
    failed = {**record, "status": "failed", "error": f"{type(error).__name__}: {error}"[:4000]}
    try:
        if not _update_if_claimed(spark, lakehouse, failed):
            log.warning("run %s: attempt %s failed after another attempt claimed the run; "
                        "its status is that attempt's", record["run_id"], record[ATTEMPT_COLUMN])
    except Exception as marking:  # the caller must see the run's own error, not this one
        log.warning("run %s: could not mark it failed: %s", record["run_id"], marking)


def _taken_over(run_id: str, holder: str | None, attempt_id: str) -> RunConflictError:
    return RunConflictError(
        f"run {run_id} was taken over by another job (attempt {holder}) while this one "
        f"(attempt {attempt_id}) was writing; this attempt's results were discarded")


def _delete_attempt(spark: SparkSession, lakehouse: Lakehouse, run_id: str, attempt_id: str,
                    tables: list[str]) -> None:
    """Deletes a lost attempt's rows: invisible already, but they would take space."""
    mine = (F.col("run_id") == run_id) & (F.col(ATTEMPT_COLUMN) == attempt_id)
    migrations = F.lit(False)
    for side, column in zip(("from", "to"), MIGRATION_ATTEMPT_COLUMNS):
        migrations = migrations | ((F.col(f"{side}_run_id") == run_id)
                                   & (F.col(column) == attempt_id))
    for table, rows, columns in [*((table, mine, [ATTEMPT_COLUMN]) for table in tables),
                                 (MIGRATIONS_TABLE, migrations, MIGRATION_ATTEMPT_COLUMNS)]:
        try:
            if _has_columns(spark, lakehouse, table, columns):
                lakehouse.delete_rows(spark, table, rows)
        except Exception as error:  # the conflict is what the caller must see
            log.warning("%s: could not delete attempt %s's rows: %s",
                        lakehouse.location(table), attempt_id, error)


def _delete_other_attempts(spark: SparkSession, lakehouse: Lakehouse, run_id: str,
                           attempt_id: str, tables: list[str]) -> None:
    """After a success, deletes the run's rows of other attempts (crashed, failed or lost
    ones; invisible already). The attempts are listed before the claim is checked: one
    that claims the run after the check writes its rows after the listing, so is not in
    it, and its rows are never deleted here."""
    try:
        others = _other_attempts(spark, lakehouse, tables, run_id, attempt_id)
        if claim_holder(spark, lakehouse, run_id) != attempt_id:
            log.info("run %s: claimed again since; the newer attempt cleans up", run_id)
            return
        for table, attempts in others.items():
            if attempts:
                lakehouse.delete_rows(spark, table, attempt_rows(run_id, attempts))
                log.info("%s: deleted the rows of %d other attempt(s) of run %s",
                         lakehouse.location(table), len(attempts), run_id)
    except Exception as error:  # the run has succeeded; a later success deletes leftovers
        log.warning("run %s: could not delete other attempts' rows: %s", run_id, error)


def _other_attempts(spark: SparkSession, lakehouse: Lakehouse, tables: list[str], run_id: str,
                    attempt_id: str) -> dict[str, set[str | None]]:
    """The run's attempts other than `attempt_id` in each table, listed in one Spark job."""
    listed = functools.reduce(DataFrame.unionByName, [
        lakehouse.read(spark, table).where(F.col("run_id") == run_id)
        .select(F.lit(table).alias("table"), ATTEMPT_COLUMN).distinct() for table in tables])
    others: dict[str, set[str | None]] = {table: set() for table in tables}
    for row in listed.collect():  # a few attempts per table
        if row[ATTEMPT_COLUMN] != attempt_id:
            others[row["table"]].add(row[ATTEMPT_COLUMN])
    return others


def attempt_rows(run_id: str, attempts: set[str | None]) -> Column:
    """Rows of the given attempts of a run; None stands for rows without an attempt id
    (written before attempts existed)."""
    named = sorted(attempt for attempt in attempts if attempt is not None)
    of_attempts = F.col(ATTEMPT_COLUMN).isin(named) if named else F.lit(False)
    if None in attempts:
        of_attempts = of_attempts | F.col(ATTEMPT_COLUMN).isNull()
    return (F.col("run_id") == run_id) & of_attempts


def _has_columns(spark: SparkSession, lakehouse: Lakehouse, table: str, columns) -> bool:
    return (lakehouse.exists(spark, table)
            and set(columns) <= set(lakehouse.read(spark, table).columns))


def _with_columns(frame: DataFrame, columns) -> DataFrame:
    """`frame` with the given string columns, NULL where a table written by an older
    version lacks them."""
    missing = [column for column in columns if column not in frame.columns]
    return frame.select("*", *[F.lit(None).cast("string").alias(c) for c in missing])


def utc_now() -> dt.datetime:
    """Naive UTC, as Spark stores timestamps under the UTC session time zone."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def read_table(spark: SparkSession, lakehouse: Lakehouse, table: str) -> DataFrame:
    """A run table as the runs' succeeded attempts wrote it: what every reader should use.
    Rows and runs written before attempt ids existed have none (NULL), and match."""
    runs = (_with_columns(lakehouse.read(spark, RUNS_TABLE), [ATTEMPT_COLUMN])
            .where(F.col("status") == "succeeded"))
    if table == RUNS_TABLE:
        return runs
    if table == MIGRATIONS_TABLE:
        rows = _with_columns(lakehouse.read(spark, table), MIGRATION_ATTEMPT_COLUMNS)
        for side, attempt in zip(("from", "to"), MIGRATION_ATTEMPT_COLUMNS):
            rows = _of_succeeded_attempts(rows, runs, f"{side}_run_id", attempt)
        return rows.drop(*MIGRATION_ATTEMPT_COLUMNS)
    rows = _with_columns(lakehouse.read(spark, table), [ATTEMPT_COLUMN])
    return _of_succeeded_attempts(rows, runs, "run_id", ATTEMPT_COLUMN).drop(ATTEMPT_COLUMN)


def _of_succeeded_attempts(rows: DataFrame, runs: DataFrame, run_column: str,
                           attempt_column: str) -> DataFrame:
    succeeded = runs.select(F.col("run_id").alias("_run"),
                            F.col(ATTEMPT_COLUMN).alias("_attempt"))
    return rows.join(succeeded, (F.col(run_column) == F.col("_run"))
                     & F.col(attempt_column).eqNullSafe(F.col("_attempt")), "left_semi")


@dataclasses.dataclass(frozen=True)
class RunInfo:
    run_id: str
    as_of_date: dt.date
    finished_at: dt.datetime
    scheme_sha256: str | None
    attempt_id: str | None = None  # None for runs written before attempt ids existed


def succeeded_runs(spark: SparkSession, lakehouse: Lakehouse) -> dict[str, RunInfo]:
    """The succeeded runs by id (one small read of rfm_runs; none if it does not exist)."""
    if not lakehouse.exists(spark, RUNS_TABLE):
        return {}
    rows = (read_table(spark, lakehouse, RUNS_TABLE)
            .select("run_id", "as_of_date", "finished_at", "scheme_sha256", ATTEMPT_COLUMN)
            .collect())  # one row per run
    return {row.run_id: RunInfo(*row) for row in rows}


def run_rows(spark: SparkSession, lakehouse: Lakehouse, table: str, run: RunInfo) -> DataFrame:
    """A run table's rows of one run's succeeded attempt (`run` from `succeeded_runs`)."""
    rows = _with_columns(lakehouse.read(spark, table), [ATTEMPT_COLUMN])
    of_run = ((F.col("run_id") == run.run_id)
              & F.col(ATTEMPT_COLUMN).eqNullSafe(F.lit(run.attempt_id).cast("string")))
    return rows.where(of_run).drop(ATTEMPT_COLUMN)


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
