"""Read stage: source files to a typed transactions DataFrame.

Nothing is inferred. CSV columns are read as text under a schema taken from the header of
the input and checked against every file's header (a reordered or renamed header fails
the read instead of shifting values); rows with the wrong number of fields are kept and
flagged. Typing is explicit and never fails the job: a value that does not parse becomes
NULL here and is rejected, with the source values it came from, by the clean stage.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rfm_spark.config import Columns, Input

CORRUPT_RECORD = "_corrupt_record"
# Carried from the read to rfm_rejects: the raw line, the source values, the file.
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
    T.StructField("malformed", T.BooleanType(), nullable=False),
])


class InputError(ValueError):
    """The input cannot be read as configured (missing columns, no files)."""


def read_source(spark: SparkSession, path: str, source: Input) -> DataFrame:
    """The mapped columns of the source at `path`, see `select_roles`."""
    if source.format == "csv":
        raw = _read_csv(spark, path, source)
    else:
        try:
            raw = spark.read.format(source.format).load(path)
        except Exception as error:  # AnalysisException: no such path, not a Delta table
            raise InputError(f"{path}: cannot read {source.format} input: {error}") from error
    return select_roles(raw, source.columns, path, from_files=True)


def select_roles(raw: DataFrame, columns: Columns, where: str, from_files: bool = False
                 ) -> DataFrame:
    """The mapped columns renamed to their roles, in their source types, with what a
    quarantine needs: `malformed`, `raw_line` (a malformed CSV line as read), `values`
    (every source column, as a struct) and `source_file`."""
    mapping = _role_columns(columns)
    missing = sorted({column for column in mapping.values() if column not in raw.columns})
    if missing:
        raise InputError(f"{where}: columns {missing} are mapped in input.columns but the "
                         f"input has only {raw.columns}")
    has_corrupt = CORRUPT_RECORD in raw.columns
    malformed = F.col(CORRUPT_RECORD).isNotNull() if has_corrupt else F.lit(False)
    values = F.struct(*[F.col(f"`{name}`") for name in raw.columns if name != CORRUPT_RECORD])
    source_file = F.col("_metadata.file_path") if from_files else F.lit(None).cast("string")
    return raw.select(*[F.col(f"`{column}`").alias(role) for role, column in mapping.items()],
                      malformed.alias("malformed"),
                      (F.col(CORRUPT_RECORD) if has_corrupt else F.lit(None).cast("string")
                       ).alias("raw_line"),
                      values.alias("values"), source_file.alias("source_file"))


def _read_csv(spark: SparkSession, path: str, source: Input) -> DataFrame:
    options = {"header": source.csv.header, "sep": source.csv.delimiter,
               "encoding": source.csv.encoding}
    # Spark 4 accepts only seven charsets unless told to use Java's (cp1251 for 1C exports).
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    try:
        header = spark.read.options(**options).csv(path).columns
    except Exception as error:  # Spark raises AnalysisException subclasses for paths
        raise InputError(f"{path}: cannot read CSV input: {error}") from error
    if not header:
        raise InputError(f"{path}: the CSV input is empty")
    # With pruning, the parser reads only the selected columns and a line with too few or
    # too many fields goes unnoticed; without it every line is checked against the header.
    spark.conf.set("spark.sql.csv.parser.columnPruning.enabled", "false")
    schema = T.StructType([T.StructField(name, T.StringType()) for name in header]
                          + [T.StructField(CORRUPT_RECORD, T.StringType())])
    return (spark.read.schema(schema)
            .options(**options, enforceSchema=False, mode="PERMISSIVE",
                     columnNameOfCorruptRecord=CORRUPT_RECORD)
            .csv(path))


def _role_columns(columns: Columns) -> dict[str, str]:
    roles = ("customer_id", "date", "amount", "order_id", "quantity", "unit_price", "store",
             "country", "channel")
    return {role: getattr(columns, role) for role in roles if getattr(columns, role)}


def to_transactions(source: DataFrame, date_format: str, decimal: str = ".") -> DataFrame:
    """Typed transactions in TRANSACTION_SCHEMA (plus the quarantine's columns), whatever
    the source types were; `decimal` "," reads text amounts with decimal commas."""
    if "amount" in source.columns:
        amount = _as_amount(source, "amount", decimal)
    else:
        amount = (_as_amount(source, "quantity", decimal)
                  * _as_amount(source, "unit_price", decimal)).try_cast(AMOUNT)
    return source.select(
        _as_text(source, "customer_id").alias("customer_id"),
        _as_date(source, "date", date_format).alias("purchase_date"),
        amount.alias("amount"),
        _optional(source, "order_id", "string").alias("order_id"),
        _as_number(source, "quantity", decimal).alias("quantity"),
        _optional(source, "store", "string").alias("store"),
        _optional(source, "country", "string").alias("country"),
        _optional(source, "channel", "string").alias("channel"),
        F.col("malformed"),
        *QUARANTINE_COLUMNS,
    )


def _optional(source: DataFrame, role: str, kind: str) -> Column:
    if role not in source.columns:
        return F.lit(None).cast(kind)
    return _as_text(source, role) if kind == "string" else F.col(role).try_cast(kind)


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
    """Text numbers as Spark reads them. With decimal commas, spaces (also no-break ones)
    group thousands and a point is not allowed, so "1.234" fails instead of reading 1.234."""
    if decimal == ".":
        return text
    return F.translate(F.regexp_replace(text, r"[\s\u00a0\u202f]", ""), ",.", ".x")


def _as_date(source: DataFrame, role: str, date_format: str) -> Column:
    kind = dict(source.dtypes)[role]
    column = F.col(role)
    if kind == "date":
        return column
    if kind.startswith("timestamp"):
        return column.cast("date")
    return F.try_to_timestamp(column.cast("string"), F.lit(date_format)).cast("date")
