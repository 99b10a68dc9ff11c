"""Where the tables live and every Delta statement made on them, through Spark SQL and
the DataFrame writer only (so Spark Connect sessions work): create from the table
contract, append, replace one run's rows, update, delete, read.

Delta detects conflicting commits conservatively (two attempts of one run read the same
partition; two jobs creating a table collide on its first commit), so every commit here
is retried on Delta's concurrent-modification errors; each is idempotent on the table's
new state.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import names
from rfm_spark.errors import ConfigError, RfmError
from rfm_spark.tables import TABLES, Table

log = logging.getLogger(__name__)

Layout = tuple[tuple[str, str], ...]   # (column, Spark type), as `Table.layout` gives
T = TypeVar("T")

# Delta's concurrent-modification errors, by class name or error class, however they
# arrive (classic or Connect); and a table created by another job since we looked.
_WRITE_CONFLICT = re.compile(
    r"Concurrent(Append|DeleteRead|DeleteDelete|Transaction|Write)Exception"
    r"|(MetadataChanged|ProtocolChanged|DeltaConcurrentModification)Exception"
    r"|DELTA_CONCURRENT_\w+|DELTA_METADATA_CHANGED|DELTA_PROTOCOL_CHANGED"
    r"|TABLE_OR_VIEW_ALREADY_EXISTS|FileAlreadyExistsException"
    # another job's CREATE TABLE half done: its folder exists, its first commit not yet
    r"|DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION|_CreatedElsewhere")
_MISSING_TABLE = re.compile(r"DELTA_MISSING_DELTA_TABLE|PATH_NOT_FOUND|TABLE_OR_VIEW_NOT_FOUND"
                            r"|DELTA_TABLE_NOT_FOUND|DELTA_PATH_DOES_NOT_EXIST"
                            r"|DELTA_TABLE_ONLY_OPERATION")
_COMMIT_TRIES = 8


class _CreatedElsewhere(Exception):
    """A table another job is creating: not readable yet."""


def write_conflict(error: BaseException) -> str | None:
    """The name of the concurrent-modification error `error` is, if it is one."""
    found = _WRITE_CONFLICT.search(f"{type(error).__name__}: {error}")
    return found.group(0) if found else None


def missing_table(error: BaseException) -> bool:
    return bool(_MISSING_TABLE.search(f"{type(error).__name__}: {error}"))


def retry_on_conflict(commit: Callable[[], T], what: str) -> T:
    """Runs a Delta commit again when a concurrent commit made it fail."""
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


def concurrently(tasks: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Runs independent Spark actions at once (one thread each: Spark schedules their
    jobs side by side) and returns their results by name; the first error is raised
    after all have finished."""
    if len(tasks) <= 1:
        return {name: task() for name, task in tasks.items()}
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
    errors = [future.exception() for future in futures.values() if future.exception()]
    if errors:
        raise errors[0]
    return {name: future.result() for name, future in futures.items()}


@dataclasses.dataclass(frozen=True)
class Lakehouse:
    """A folder of Delta tables (`root`, any Hadoop file system) or a metastore schema
    (`database`, `schema` or `catalog.schema`)."""
    root: str | None = None
    database: str | None = None

    def __post_init__(self):
        if (self.root is None) == (self.database is None):
            raise ConfigError("give exactly one of a lakehouse folder or a database")
        if self.database and not names.DATABASE.fullmatch(self.database):
            raise ConfigError(f"database {self.database!r}: use `schema` or `catalog.schema`")

    def location(self, table: str) -> str:
        return f"{self.database}.{table}" if self.database else f"{self.root.rstrip('/')}/{table}"

    def ref(self, table: str) -> str:
        """The table in SQL text."""
        if self.database:
            return self.location(table)
        return "delta.`" + self.location(table).replace("`", "``") + "`"

    def read(self, spark: SparkSession, table: str) -> DataFrame:
        """All stored rows of a table, every attempt's (readers: `read_table`)."""
        if self.database:
            return spark.read.table(self.location(table))
        return spark.read.format("delta").load(self.location(table))

    def schema(self, spark: SparkSession, table: str) -> Layout | None:
        """The table's columns and types; None when it does not exist or has no commit."""
        try:
            fields = self.read(spark, table).schema.fields
        except Exception as error:
            if missing_table(error):
                return None
            raise
        return tuple((field.name, field.dataType.simpleString()) for field in fields)

    def exists(self, spark: SparkSession, table: str) -> bool:
        return self.schema(spark, table) is not None

    def ensure(self, spark: SparkSession, table: Table, layout: Layout) -> Layout:
        """Creates the table from its declaration, or adds the columns of `layout` it
        lacks where the contract allows it; returns the table's columns."""
        def create_or_extend() -> Layout:
            existing = self.schema(spark, table.name)
            if existing is None:
                partitioned = (f" PARTITIONED BY (`{table.partition_by}`)"
                               if table.partition_by else "")
                spark.sql(f"CREATE TABLE IF NOT EXISTS {self.ref(table.name)} "
                          f"({table.ddl(layout)}) USING delta{partitioned}")
                created = self.schema(spark, table.name)
                if created is None and not self.database:
                    # CREATE took a folder left with an empty _delta_log (a job killed
                    # while creating it) for a table: a first, empty commit makes one.
                    writer = (spark.createDataFrame([], table.ddl(layout)).write
                              .format("delta").mode("append"))
                    if table.partition_by:
                        writer = writer.partitionBy(table.partition_by)
                    writer.save(self.location(table.name))
                    created = self.schema(spark, table.name)
                if created is None:  # another job's CREATE is under way: look again
                    raise _CreatedElsewhere(self.location(table.name))
                return created
            missing = _columns_to_add(self.location(table.name), table, existing, layout)
            if not missing:
                return existing
            spark.sql(f"ALTER TABLE {self.ref(table.name)} ADD COLUMNS ({table.ddl(missing)})")
            log.info("%s: added columns %s", self.location(table.name),
                     ", ".join(name for name, _ in missing))
            return self.schema(spark, table.name)
        return retry_on_conflict(create_or_extend, f"create {self.location(table.name)}")

    def append(self, frame: DataFrame, table: str, columns: Layout) -> None:
        """Appends `frame` (a run's conformed rows) in one commit, as the table's columns:
        those the run has not (another preset's attributes) are NULL."""
        have = set(frame.columns)
        aligned = frame.select(*[F.col(f"`{name}`") if name in have
                                 else F.lit(None).cast(kind).alias(name)
                                 for name, kind in columns])
        writer = aligned.write.format("delta").mode("append")
        location = self.location(table)
        retry_on_conflict(lambda: writer.saveAsTable(location) if self.database
                          else writer.save(location), f"append to {location}")

    def replace(self, frame: DataFrame, table: str, rows: str) -> None:
        """Replaces the rows matching the SQL predicate `rows` by `frame`, in one commit."""
        writer = (frame.write.format("delta").mode("overwrite").option("replaceWhere", rows))
        location = self.location(table)
        retry_on_conflict(lambda: writer.saveAsTable(location) if self.database
                          else writer.save(location), f"write {location}")

    def update(self, spark: SparkSession, table: str, assignments: dict[str, str],
               rows: str) -> int:
        """`UPDATE ... SET column = <SQL expression> WHERE rows`; the rows updated."""
        sets = ", ".join(f"`{column}` = {value}" for column, value in assignments.items())
        statement = f"UPDATE {self.ref(table)} SET {sets} WHERE {rows}"
        result = retry_on_conflict(lambda: spark.sql(statement).first(),
                                   f"update {self.location(table)}")
        return int(result[0]) if result is not None else 0

    def delete(self, spark: SparkSession, table: str, rows: str) -> None:
        """Deletes the rows matching the SQL predicate `rows` in one commit."""
        statement = f"DELETE FROM {self.ref(table)} WHERE {rows}"
        retry_on_conflict(lambda: spark.sql(statement).collect(),  # one row of counts
                          f"delete from {self.location(table)}")

    def last_commit(self, spark: SparkSession, table: str):
        """The table's newest commit: version, timestamp, operation, engineInfo, ..."""
        return spark.sql(f"DESCRIBE HISTORY {self.ref(table)} LIMIT 1").first()

    def check(self, spark: SparkSession, runs_needed: bool = False) -> None:
        """Before a job works: every table folder that exists is a Delta table, the
        lakehouse folder is no file, and (`runs_needed`) runs were written here.
        Raises ConfigError naming the path."""
        found = concurrently({table: functools.partial(self.exists, spark, table)
                              for table in TABLES})
        if runs_needed and not found["rfm_runs"]:
            raise ConfigError(f"{self.location('rfm_runs')}: no such Delta table (no run "
                              "was written here)")
        if self.database:
            return
        for table in (name for name, there in found.items() if not there):
            if _visible_files(spark, self.location(table)):
                raise ConfigError(f"{self.location(table)}: exists but is not a Delta "
                                  "table (no _delta_log)")
        if not any(found.values()):
            files = _visible_files(spark, self.root)
            if len(files) == 1 and (_bare(files[0]) + "/").endswith(
                    "/" + _bare(self.root).lstrip("/") + "/"):
                raise ConfigError(f"{self.root}: is a file, not a lakehouse folder")

    def create_view(self, spark: SparkSession, view: str, select: str) -> None:
        spark.sql(f"CREATE OR REPLACE VIEW {self.database}.{view} AS {select}")


def _columns_to_add(location: str, table: Table, existing: Layout, layout: Layout) -> Layout:
    """The run's columns the table lacks: declared extensible ones and group attributes.
    Anything else means the table was written by another version, which is refused."""
    have = dict(existing)
    declared = {col.name for col in table.columns}
    missing = []
    for name, kind in layout:
        if name in have:
            if have[name] != kind:
                raise RfmError(f"{location}: column {name} is {have[name]}, but this version "
                               f"writes {kind}; write to a new lakehouse (or database)")
        elif name in declared and name not in table.extensible:
            raise RfmError(f"{location}: has no column {name}, which this version writes "
                           "(the table was written by another version); write to a new "
                           "lakehouse (or database)")
        else:
            missing.append((name, kind))
    return tuple(missing)


def _visible_files(spark: SparkSession, path: str) -> list[str]:
    """The files Spark would read under `path` (hidden ones, like _delta_log, left
    out): none when it does not exist. Only asked of paths that are no Delta table."""
    try:
        # The path twice: given one path, Spark looks for a streaming sink's metadata
        # under it first and logs a stack trace when the path is missing (once per table
        # a new lakehouse lacks); given two, it does not look. Each file may then come
        # twice, so 4 rows hold 2 distinct files whenever there are 2.
        rows = (spark.read.format("binaryFile").load([path, path]).select("path")
                .limit(4).collect())  # at most 4 rows
    except Exception as error:
        if "PATH_NOT_FOUND" in str(error):
            return []
        raise
    return sorted({row.path for row in rows})[:2]


def _bare(path: str) -> str:
    """A path without its scheme and authority, for comparing spellings of one path."""
    return re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*:(//[^/]*)?", "", path).rstrip("/")
