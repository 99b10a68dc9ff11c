"""Read stage: source files to a typed transactions DataFrame.

Nothing is inferred. CSV is read record by record (a quoted field may hold line
breaks), every column as text, under a schema taken from the first file's header; Spark
checks each file's header against it (a reordered or renamed header fails the read, see
`read_errors`) and keeps records with the wrong number of fields, flagged. Typing is
explicit and never fails the job: a value that does not parse becomes NULL here and is
rejected, with the source values it came from, by the clean stage.
"""
from __future__ import annotations

import contextlib
import re
from typing import Iterator

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rfm_spark.config import Columns, Input
from rfm_spark.errors import ConfigError, InputError

CORRUPT_RECORD = "_corrupt_record"
# Carried from the read to rfm_rejects: the raw record, the source values, the file.
QUARANTINE_COLUMNS = ("raw_line", "values", "source_file")

# Money is exact: amounts are DECIMAL, so sums do not depend on the order Spark adds
# them in, and equal spend is equal (and graded equally) on every run. A row's amount
# must be below 10**10 with at most 8 decimals (more are rounded half up).
AMOUNT = T.DecimalType(18, 8)

# Roles read from the source, and the type each has after `to_transactions`.
TRANSACTION_SCHEMA = T.StructType([
    T.StructField("customer_id", T.StringType()),
    T.StructField("purchase_date", T.DateType()),
    T.StructField("amount", AMOUNT),
    T.StructField("order_id", T.StringType()),
    T.StructField("quantity", T.DoubleType()),
    T.StructField("store", T.StringType()),
    T.StructField("country", T.StringType()),
    T.StructField("channel", T.StringType()),
    T.StructField("item", T.StringType()),
    T.StructField("malformed", T.BooleanType(), nullable=False),
])
ROLES = ("customer_id", "date", "amount", "order_id", "quantity", "unit_price", "store",
         "country", "channel", "item")
# Read only by the jobs that need it (`items=True`): a run never fails on an item column
# its input lacks.
ITEM_ROLES = ("item",)

# Spark's own charsets; others (cp1251 for 1C exports) need Java's, a session setting.
_SPARK_CHARSETS = {"us-ascii", "iso-8859-1", "utf-8", "utf-16be", "utf-16le", "utf-16",
                   "utf-32"}
# A plain decimal in ASCII digits: no exponent (a spreadsheet's 1.2E+5 lost digits), no
# other scripts' digits (which Java would read), no grouping.
_PLAIN_DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
_ZONE_LETTERS = re.compile(r"[XxZzOV]")


def session_settings(source: Input) -> dict[str, str]:
    """The session properties reading `source` needs while the run lasts."""
    if source.format == "csv" and source.csv.encoding.lower() not in _SPARK_CHARSETS:
        return {"spark.sql.legacy.javaCharsets": "true"}
    return {}


def read_source(spark: SparkSession, path: str, source: Input,
                delta_version: int | None = None, items: bool = False) -> DataFrame:
    """The mapped columns of the source at `path` (a Delta table at `delta_version`),
    see `select_roles`."""
    if source.format == "csv":
        raw = _read_csv(spark, path, source)
    else:
        reader = spark.read.format(source.format)
        if delta_version is not None:
            reader = reader.option("versionAsOf", delta_version)
        raw = reader.load(path)
    return select_roles(raw, source.columns, path, from_files=True, items=items)


def select_roles(raw: DataFrame, columns: Columns, where: str, from_files: bool = False,
                 items: bool = False) -> DataFrame:
    """The mapped columns renamed to their roles (the item only with `items`), in their
    source types, with what a quarantine needs: `malformed`, `raw_line` (a malformed CSV
    record as read), `values` (every source column, as a struct) and `source_file`."""
    mapping = {role: column for role, column in columns.mapped().items()
               if role in ROLES and (items or role not in ITEM_ROLES)}
    missing = {role: column for role, column in mapping.items() if column not in raw.columns}
    if missing:
        listed = ", ".join(f"input.columns.{role}: {column!r}"
                           for role, column in sorted(missing.items()))
        raise ConfigError(f"{where}: the config names columns the input does not have "
                         f"({listed}); it has {[c for c in raw.columns if c != CORRUPT_RECORD]}")
    source_columns = [name for name in raw.columns if name != CORRUPT_RECORD]
    has_corrupt = CORRUPT_RECORD in raw.columns
    malformed = F.col(CORRUPT_RECORD).isNotNull() if has_corrupt else F.lit(False)
    if has_corrupt:
        # Spark parses only the columns a query reads and then cannot tell a record with
        # too few or too many fields: this always-false test reads them all, so it can.
        every_field = F.coalesce(*[F.col(f"`{name}`") for name in source_columns])
        malformed = malformed | F.coalesce(F.length(every_field) < 0, F.lit(False))
    values = F.struct(*[F.col(f"`{name}`") for name in source_columns])
    source_file = F.col("_metadata.file_path") if from_files else F.lit(None).cast("string")
    return raw.select(*[F.col(f"`{column}`").alias(role) for role, column in mapping.items()],
                      malformed.alias("malformed"),
                      (F.col(CORRUPT_RECORD) if has_corrupt else F.lit(None).cast("string")
                       ).alias("raw_line"),
                      values.alias("values"), source_file.alias("source_file"))


def _read_csv(spark: SparkSession, path: str, source: Input) -> DataFrame:
    options = {"header": source.csv.header, "sep": source.csv.delimiter,
               "encoding": source.csv.encoding, "multiLine": source.csv.multiline}
    header = _header(spark, path, options)
    _check_header(path, header)
    schema = T.StructType([T.StructField(name, T.StringType()) for name in header]
                          + [T.StructField(CORRUPT_RECORD, T.StringType())])
    return (spark.read.schema(schema)
            .options(**options, enforceSchema=False, mode="PERMISSIVE",
                     columnNameOfCorruptRecord=CORRUPT_RECORD)
            .csv(path))


def _header(spark: SparkSession, path: str, options: dict) -> list[str]:
    """The column names as a file's first record has them: an empty name stays empty
    (a trailing delimiter) and a repeated one repeated, which Spark's own names hide."""
    if not options["header"]:
        with read_errors(path):
            return spark.read.options(**options).csv(path).columns  # _c0, _c1, ...
    with read_errors(path):
        unnamed = spark.read.options(**{**options, "header": False}).csv(path)
        fields = [c for c in unnamed.columns if re.fullmatch(r"_c\d+", c)]
        first = unnamed.select(*fields).first()
    if first is None:
        raise InputError(f"{path}: the CSV input is empty")
    # Then the partition columns of key=value folders, which Spark names itself.
    return [name or "" for name in first] + [c for c in unnamed.columns if c not in fields]


def _check_header(path: str, header: list[str]) -> None:
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise InputError(f"{path}: the header names {doubled} more than once, so its "
                         f"columns are ambiguous; header: {header}")
    if CORRUPT_RECORD in header:
        raise InputError(f"{path}: a column may not be called {CORRUPT_RECORD}")


_HEADER_MISMATCH = re.compile(r"Header: (?P<header>.*)\n\s*Schema: (?P<schema>.*)", re.M)
_FILE = re.compile(r"(?:reading file|CSV file:) (\S+?)\.?(?:\s|$)")


@contextlib.contextmanager
def read_errors(where: str) -> Iterator[None]:
    """Spark's errors about the input files as one-line InputErrors naming the file:
    a header that does not match the first file's, a path that does not exist, a file
    that cannot be decoded."""
    try:
        yield
    except Exception as error:
        text = str(error)
        if "CSV header does not conform to the schema" in text or "FAILED_READ_FILE" in text:
            found = _FILE.search(text)
            file = found.group(1) if found else where
            mismatch = _HEADER_MISMATCH.search(text)
            if "CSV header does not conform" in text:
                detail = (f"header {mismatch.group('header')} does not match the first "
                          f"file's {mismatch.group('schema')}" if mismatch
                          else "its header does not match the first file's")
                raise InputError(f"{file}: {detail}; every file must have the same columns "
                                 "in the same order") from None
            raise InputError(f"{file}: cannot be read: {text.splitlines()[0]}") from None
        if "PATH_NOT_FOUND" in text:
            raise InputError(f"{where}: no input files (no such path)") from None
        raise


def to_transactions(source: DataFrame, date_format: str, decimal: str = ".",
                    timezone: str | None = None, session_zone: str = "UTC") -> DataFrame:
    """Typed transactions in TRANSACTION_SCHEMA (plus the quarantine's columns), whatever
    the source types were; `decimal` "," reads text amounts with decimal commas; a
    timestamp's date is its date in `timezone` (None: the session's)."""
    if "amount" in source.columns:
        amount = _as_amount(source, "amount", decimal)
    else:
        amount = (_as_amount(source, "quantity", decimal)
                  * _as_amount(source, "unit_price", decimal)).try_cast(AMOUNT)
    return source.select(
        _as_customer(source).alias("customer_id"),
        _as_date(source, "date", date_format, timezone, session_zone).alias("purchase_date"),
        amount.alias("amount"),
        _optional(source, "order_id", "string").alias("order_id"),
        _as_number(source, "quantity", decimal).alias("quantity"),
        _optional(source, "store", "string").alias("store"),
        _optional(source, "country", "string").alias("country"),
        _optional(source, "channel", "string").alias("channel"),
        _optional(source, "item", "string").alias("item"),
        F.col("malformed"),
        *QUARANTINE_COLUMNS,
    )


def _optional(source: DataFrame, role: str, kind: str) -> Column:
    if role not in source.columns:
        return F.lit(None).cast(kind)
    return _as_text(source, role) if kind == "string" else F.col(role).try_cast(kind)


def _as_customer(source: DataFrame) -> Column:
    """The customer id as text; NaN and infinities of a float id column (anonymous
    purchases in Online Retail's CustomerID) are no id."""
    column = F.col("customer_id")
    if dict(source.dtypes)["customer_id"] in ("float", "double"):
        no_id = F.isnan(column) | (F.abs(column) == float("inf"))
        return F.when(~no_id, _as_text(source, "customer_id"))
    return _as_text(source, "customer_id")


def _as_text(source: DataFrame, role: str) -> Column:
    column = F.col(role)
    if dict(source.dtypes)[role] in ("float", "double"):
        # 17850.0 from a float column is the id 17850, not the text "17850.0".
        whole = column == F.floor(column)
        return F.when(whole, column.cast("long").cast("string")).otherwise(column.cast("string"))
    return column.cast("string")


def _as_amount(source: DataFrame, role: str, decimal: str) -> Column:
    # A double becomes the decimal of its shortest text (2.55 stays 2.55); a 32-bit float
    # goes through text explicitly, or it would widen to 2.5499999523.
    column = F.col(role)
    kind = dict(source.dtypes)[role]
    if kind == "float":
        column = column.cast("string")
    if kind == "string":
        column = _number_text(column, decimal)
    return column.try_cast(AMOUNT)


def _as_number(source: DataFrame, role: str, decimal: str) -> Column:
    if role not in source.columns:
        return F.lit(None).cast("double")
    column = F.col(role)
    if dict(source.dtypes)[role] == "string":
        column = _number_text(column, decimal)
    return column.try_cast("double")


def _number_text(text: Column, decimal: str) -> Column:
    """Text numbers as plain decimals, NULL otherwise. With decimal commas, spaces (also
    no-break ones) group thousands and a point is not allowed, so "1.234" fails instead
    of reading 1.234."""
    text = F.trim(text)
    if decimal == ",":
        text = F.translate(F.regexp_replace(text, r"[\s\u00a0\u202f]", ""), ",.", ".x")
    return F.when(text.rlike(_PLAIN_DECIMAL), text)


def _as_date(source: DataFrame, role: str, date_format: str, timezone: str | None,
             session_zone: str) -> Column:
    """The purchase date. A timestamp column, or text whose format has a zone, is an
    instant: its date is taken in `timezone`. Text without a zone is a wall-clock time
    whose date is as written."""
    kind = dict(source.dtypes)[role]
    column = F.col(role)
    if kind == "date":
        return column
    if kind in ("timestamp_ntz",):
        return column.cast("date")
    if kind == "timestamp":
        instant = column
    else:
        instant = F.try_to_timestamp(column.cast("string"), F.lit(date_format))
        if not _ZONE_LETTERS.search(re.sub(r"'[^']*'", "", date_format)):
            return instant.cast("date")
    if timezone is None or timezone == session_zone:
        return instant.cast("date")
    wall_clock = F.convert_timezone(F.lit(session_zone), F.lit(timezone),
                                    instant.cast("timestamp_ntz"))
    return wall_clock.cast("date")
