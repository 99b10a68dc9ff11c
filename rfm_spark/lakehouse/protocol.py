"""How a run is written so that it never half-exists.

Each `write_run` call is an *attempt* with its own id (uuid4 hex):
1. it reads rfm_runs once: is the run id taken, from which input, which runs succeeded;
2. refuses a run id written from other input (`fingerprint.py`) unless forced;
3. creates or extends the tables from the contract (`tables.py`), before anything else,
   so a job killed now leaves no half-made table;
4. claims the run id: the run's rfm_runs row becomes `running` with its attempt id
   (the newest claim wins, so a re-run takes over from a crashed attempt);
5. appends its rows of every run table, tagged with its attempt id, as concurrent
   Spark jobs (a new attempt's rows cannot exist yet: appends never conflict);
6. `before_success` writes its migrations, tagged the same way;
7. marks the run `succeeded` only if the claim is still its own: one conditional
   UPDATE, which a claim committed meanwhile makes match nothing;
8. deletes the rows of the run's other attempts (crashed, failed or replaced ones).
An attempt that fails, or loses its claim, deletes its own rows (best effort; the next
success deletes leftovers) and is marked `failed` if it still holds the claim.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import re
import uuid
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import fingerprint as fingerprints
from rfm_spark import names
from rfm_spark.errors import InputChangedError, RunConflictError
from rfm_spark.lakehouse.readers import MIGRATION_ATTEMPTS, VIEW_PREFIX, RunInfo, view_sql
from rfm_spark.lakehouse.storage import Lakehouse, Layout, concurrently
from rfm_spark.tables import ATTEMPT, MIGRATIONS, RUNS, TABLES

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RunState:
    """rfm_runs as one attempt found it, read once: the run's own row and the runs that
    had succeeded (what its migrations compare with)."""
    stored_attempt: str | None
    stored_fingerprint: str | None
    written_before: bool
    succeeded: dict[str, RunInfo]


@dataclasses.dataclass
class RunWrite:
    """What an attempt writes: the run's rfm_runs record (all columns but status,
    attempt and finish) and its rows of each run table with their layouts."""
    run_id: str
    record: dict
    tables: dict[str, DataFrame]
    layouts: dict[str, Layout]
    input_fingerprint: str | None = None
    keep_stored_fingerprint: bool = False   # this run could not take one


@dataclasses.dataclass(frozen=True)
class Attempt:
    """An attempt while it writes: given to `before_success`."""
    attempt_id: str
    state: RunState
    columns: dict[str, Layout]   # each table's columns, as created or extended


def utc_now() -> dt.datetime:
    """Naive UTC, as Spark stores timestamps under the UTC session time zone."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def read_state(spark: SparkSession, lakehouse: Lakehouse, run_id: str) -> RunState:
    columns = ["run_id", "as_of_date", "finished_at", "scheme_sha256", ATTEMPT, "status",
               "input_fingerprint"]
    rows = (lakehouse.read(spark, RUNS.name).select(*columns).collect()  # one row per run
            if lakehouse.exists(spark, RUNS.name) else [])
    own = next((row for row in rows if row.run_id == run_id), None)
    succeeded = {row.run_id: RunInfo(*row[:5]) for row in rows if row.status == "succeeded"}
    return RunState(own[ATTEMPT] if own else None, own.input_fingerprint if own else None,
                    own is not None, succeeded)


def check_input_unchanged(state: RunState, run: RunWrite, force: bool) -> None:
    """Refuses (InputChangedError) to replace a run written from other input, unless
    `force`: a run id names one result, which a re-run repeats but must not silently
    change. Compares only when both the stored run and this one have a fingerprint."""
    stored, current = state.stored_fingerprint, run.input_fingerprint
    if force or stored is None or current is None or fingerprints.same_input(stored, current):
        return
    raise InputChangedError(
        f"run {run.run_id} was written from other input ({fingerprints.description(stored)};"
        f" now {fingerprints.description(current)}); re-run with --force (force=True) to "
        "replace it")


def write_run(spark: SparkSession, lakehouse: Lakehouse, run: RunWrite, *, force: bool = False,
              before_success: Callable[[Attempt], None] = lambda attempt: None) -> str:
    """Writes one attempt at a run (see the module's steps) and returns its attempt id.
    Raises InputChangedError before writing anything when the input changed and not
    `force`; RunConflictError when another attempt claimed the run meanwhile."""
    run_id = names.check_run_id(run.run_id)
    if lakehouse.database:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {lakehouse.database}")  # name checked
    state = read_state(spark, lakehouse, run_id)
    check_input_unchanged(state, run, force)
    columns = _ensure_tables(spark, lakehouse, run.layouts)
    attempt = Attempt(uuid.uuid4().hex, state, columns)
    record = {**run.record, "run_id": run_id, ATTEMPT: attempt.attempt_id,
              "input_fingerprint": (state.stored_fingerprint if run.keep_stored_fingerprint
                                    else run.input_fingerprint)}
    _claim(spark, lakehouse, record)
    try:
        concurrently({name: functools.partial(
            lakehouse.append, frame.withColumn(ATTEMPT, F.lit(attempt.attempt_id)), name,
            columns[name]) for name, frame in run.tables.items()})
        before_success(attempt)
        if not _mark(spark, lakehouse, record, "succeeded", delta_version(spark, lakehouse)):
            raise _taken_over(spark, lakehouse, run_id, attempt.attempt_id)
    except Exception as error:
        if not isinstance(error, RunConflictError):
            _mark_failed(spark, lakehouse, record, error)
        _delete_attempt(spark, lakehouse, run_id, attempt.attempt_id, list(run.tables))
        raise
    log.info("run %s: attempt %s succeeded", run_id, attempt.attempt_id)
    if state.written_before:
        _delete_other_attempts(spark, lakehouse, run_id, attempt.attempt_id, list(run.tables))
    if lakehouse.database:
        refresh_views(spark, lakehouse, [*run.tables, RUNS.name, MIGRATIONS.name])
    return attempt.attempt_id


def _ensure_tables(spark: SparkSession, lakehouse: Lakehouse, layouts: dict[str, Layout]
                   ) -> dict[str, Layout]:
    """Every table of the run, rfm_runs and rfm_migrations exist in their declared form
    before the claim; their columns as they are now."""
    wanted = {RUNS.name: RUNS.layout(), MIGRATIONS.name: MIGRATIONS.layout(), **layouts}
    return concurrently({name: functools.partial(lakehouse.ensure, spark, TABLES[name], layout)
                         for name, layout in wanted.items()})


def runs_row(spark: SparkSession, record: dict) -> DataFrame:
    """The run's rfm_runs row, its columns as declared."""
    layout = RUNS.layout()
    return spark.createDataFrame([tuple(record.get(name) for name, _ in layout)],
                                 RUNS.ddl(layout))


def _claim(spark: SparkSession, lakehouse: Lakehouse, record: dict) -> None:
    """Replaces the run's row of rfm_runs, whichever attempt held it (one Delta commit);
    two claims at once conflict on the run's partition, and the retry wins."""
    row = runs_row(spark, {**record, "status": "running"})
    lakehouse.replace(row, RUNS.name, f"run_id = {names.sql_string(record['run_id'])}")
    log.info("run %s: attempt %s claimed it", record["run_id"], record[ATTEMPT])


def _mark(spark: SparkSession, lakehouse: Lakehouse, record: dict, status: str,
          delta: str | None, error: str | None = None) -> bool:
    """Sets the run's status only if its row still holds this attempt's claim (one
    conditional UPDATE); whether it did."""
    claimed = (f"run_id = {names.sql_string(record['run_id'])} "
               f"AND {ATTEMPT} = {names.sql_string(record[ATTEMPT])}")
    finished = utc_now().isoformat(sep=" ")
    values = {"status": names.sql_string(status),
              "finished_at": f"TIMESTAMP {names.sql_string(finished)}",
              "delta_version": names.sql_string(delta) if delta else "delta_version"}
    if error is not None:
        values["error"] = names.sql_string(error)
    return lakehouse.update(spark, RUNS.name, values, claimed) == 1


def _mark_failed(spark: SparkSession, lakehouse: Lakehouse, record: dict, error: Exception
                 ) -> None:
    message = f"{type(error).__name__}: {error}"[:4000]
    try:
        if not _mark(spark, lakehouse, record, "failed", None, message):
            log.warning("run %s: attempt %s failed after another attempt claimed the run; "
                        "its status is that attempt's", record["run_id"], record[ATTEMPT])
    except Exception as marking:  # the caller must see the run's own error, not this one
        log.warning("run %s: could not mark it failed: %s", record["run_id"], marking)


def _taken_over(spark: SparkSession, lakehouse: Lakehouse, run_id: str, attempt_id: str
                ) -> RunConflictError:
    return RunConflictError(
        f"run {run_id} was taken over by another job (attempt "
        f"{claim_holder(spark, lakehouse, run_id)}) while this one (attempt {attempt_id}) "
        "was writing; this attempt's results were discarded")


def claim_holder(spark: SparkSession, lakehouse: Lakehouse, run_id: str) -> str | None:
    """The attempt id in the run's row of rfm_runs: the attempt that last claimed it."""
    rows = (lakehouse.read(spark, RUNS.name).where(F.col("run_id") == run_id)
            .select(ATTEMPT).collect())  # one row
    return rows[0][0] if rows else None


def _attempt_rows(run_id: str, attempts: list[str | None], side: str = "") -> str:
    """SQL: rows of the given attempts of a run (None: rows written before attempt ids),
    in a run table (`side` "") or one side of rfm_migrations ("from"/"to")."""
    run_column, attempt_column = (f"{side}_run_id", f"{side}_attempt_id") if side else (
        "run_id", ATTEMPT)
    named = [names.sql_string(names.check_attempt_id(a)) for a in attempts if a is not None]
    of_attempts = [f"{attempt_column} IN ({', '.join(named)})"] if named else []
    if None in attempts:
        of_attempts.append(f"{attempt_column} IS NULL")
    return f"({run_column} = {names.sql_string(run_id)} AND ({' OR '.join(of_attempts)}))"


def _delete_attempt(spark: SparkSession, lakehouse: Lakehouse, run_id: str, attempt_id: str,
                    tables: list[str]) -> None:
    """Deletes a failed or lost attempt's rows: invisible already, but a plain reader
    would count them."""
    predicates = {table: _attempt_rows(run_id, [attempt_id]) for table in tables}
    predicates[MIGRATIONS.name] = " OR ".join(_attempt_rows(run_id, [attempt_id], side)
                                              for side in ("from", "to"))
    try:
        concurrently({table: functools.partial(lakehouse.delete, spark, table, rows)
                      for table, rows in predicates.items()})
    except Exception as error:  # the run's own error is what the caller must see
        log.warning("run %s: could not delete attempt %s's rows (the next success of the "
                    "run does): %s", run_id, attempt_id, error)


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
        predicates = {}
        for table, attempts in others.items():
            if table == MIGRATIONS.name:
                sides = [_attempt_rows(run_id, sorted(attempts[side], key=str), side)
                         for side in ("from", "to") if attempts[side]]
                if sides:
                    predicates[table] = " OR ".join(sides)
            elif attempts:
                predicates[table] = _attempt_rows(run_id, sorted(attempts, key=str))
        concurrently({table: functools.partial(lakehouse.delete, spark, table, rows)
                      for table, rows in predicates.items()})
        if predicates:
            log.info("run %s: deleted the rows of other attempts from %s", run_id,
                     ", ".join(sorted(predicates)))
    except Exception as error:  # the run has succeeded; a later success deletes leftovers
        log.warning("run %s: could not delete other attempts' rows: %s", run_id, error)


def _other_attempts(spark: SparkSession, lakehouse: Lakehouse, tables: list[str], run_id: str,
                    attempt_id: str) -> dict:
    """The run's attempts other than `attempt_id`: per run table a set, and for
    rfm_migrations a set per side; each table listed by its own concurrent Spark job."""
    def listed(table: str, run_column: str, attempt_column: str) -> set:
        rows = (lakehouse.read(spark, table).where(F.col(run_column) == run_id)
                .select(attempt_column).distinct().collect())  # a few attempts
        return {row[0] for row in rows} - {attempt_id}

    tasks = {table: functools.partial(listed, table, "run_id", ATTEMPT) for table in tables}
    tasks.update({side: functools.partial(listed, MIGRATIONS.name, f"{side}_run_id", column)
                  for side, column in zip(("from", "to"), MIGRATION_ATTEMPTS)})
    found = concurrently(tasks)
    others: dict = {table: found[table] for table in tables}
    others[MIGRATIONS.name] = {side: found[side] for side in ("from", "to")}
    return others


_DELTA_ENGINE = re.compile(r"Delta-Lake/(\S+)")
_SESSION_DELTA: dict[int, str] = {}   # per session: its jars do not change while it lives


def delta_version(spark: SparkSession, lakehouse: Lakehouse) -> str | None:
    """The version of the Delta jars that committed to rfm_runs last (the claim): the
    engine's, which may differ from the Python package's. Read from the table's history
    once per session."""
    if id(spark) in _SESSION_DELTA:
        return _SESSION_DELTA[id(spark)]
    try:
        engine = lakehouse.last_commit(spark, RUNS.name)["engineInfo"] or ""
    except Exception as error:  # a record of the engine, never the reason a run fails
        log.warning("could not read the Delta version from the table history: %s", error)
        return None
    found = _DELTA_ENGINE.search(engine)
    version = found.group(1) if found else engine or None
    if version is not None:
        _SESSION_DELTA[id(spark)] = version
    return version


def refresh_views(spark: SparkSession, lakehouse: Lakehouse, tables: list[str]) -> None:
    """`v_<table>` for each table: its succeeded attempts' rows, so SQL users need no
    join. Re-created after each run, as a view keeps the columns it was created with."""
    def create(table: str) -> None:
        if lakehouse.exists(spark, table):
            columns = lakehouse.read(spark, table).columns
            lakehouse.create_view(spark, f"{VIEW_PREFIX}{table}",
                                  view_sql(lakehouse, table, columns))
    try:
        concurrently({table: functools.partial(create, table) for table in tables})
    except Exception as error:  # the run is written; the views are a convenience
        log.warning("%s: could not refresh the views: %s", lakehouse.database, error)

