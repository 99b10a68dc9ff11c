"""Segments stage: grade codes to every level the rules define (segment, group, group
attributes, tags), the weighted score, and the per-code summary."""
from __future__ import annotations

from decimal import Decimal
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rfm_spark.config import Grading
from rfm_spark.metrics import MONETARY
from rfm_spark.registry import METRICS
from rfm_spark.rules import CodeEntry
from rfm_spark.tables import attribute_type

SCORE = T.DecimalType(12, 6)
LEVEL_COLUMNS = ("segment_id", "segment", "group_id", "group")


def level_columns(table: dict[str, CodeEntry]) -> tuple[str, ...]:
    """Columns a code maps to, in order: ids and names of each level, group attributes."""
    return LEVEL_COLUMNS + tuple(attributes(table))


def attributes(table: dict[str, CodeEntry]) -> dict[str, str]:
    """The groups' attributes and their column types (the same in every table)."""
    return {name: attribute_type(value)
            for name, value in next(iter(table.values())).attributes.items()}


def assign_segments(graded: DataFrame, table: dict[str, CodeEntry], grading: Grading
                    ) -> DataFrame:
    """Adds segment_code (grade digits, R first), every level, tags and score."""
    code = F.concat(*[F.col(METRICS[m].grade_column).cast("string") for m in grading.metrics])
    # A literal map: the code table is small and known before Spark starts, so no join.
    entries = F.create_map(*[x for c, entry in table.items()
                             for x in (F.lit(c), _entry_struct(entry))])
    entry = F.element_at(entries, F.col("segment_code"))
    return (graded.withColumn("segment_code", code)
            .select("*", *[entry[name].alias(name) for name in level_columns(table)],
                    entry["tags"].alias("tags"), score(grading).alias("score")))


def score(grading: Grading) -> Column:
    """Sum of weight x grade (grading.score), NULL when no weights are configured."""
    if grading.score is None:
        return F.lit(None).cast(SCORE)
    weights = {m: getattr(grading.score, m) for m in grading.metrics}
    total = sum((F.lit(Decimal(repr(w))) * F.col(METRICS[m].grade_column) for m, w in weights.items()
                 if w), F.lit(Decimal(0)))
    return total.cast(SCORE)


def _entry_struct(entry: CodeEntry) -> Column:
    text = {"segment_id": entry.segment_id, "segment": entry.segment,
            "group_id": entry.group_id, "group": entry.group}
    fields = [F.lit(value).cast("string").alias(name) for name, value in text.items()]
    fields += [F.lit(value).cast(attribute_type(value)).alias(name)
               for name, value in entry.attributes.items()]
    tags = F.array(*[F.lit(tag) for tag in entry.tags]).cast("array<string>")
    return F.struct(*fields, tags.alias("tags"))


def code_frame(spark: SparkSession, table: dict[str, CodeEntry]) -> DataFrame:
    """Every possible code with its levels, actions and tags, whether or not anyone holds it."""
    schema = ", ".join(["segment_code string"] + [f"`{name}` string" for name in LEVEL_COLUMNS]
                       + [f"`{name}` {kind}" for name, kind in attributes(table).items()]
                       + ["tags array<string>", "segment_action string", "group_action string"])
    return spark.createDataFrame(
        [(code, e.segment_id, e.segment, e.group_id, e.group, *e.attributes.values(),
          list(e.tags), e.segment_action, e.group_action) for code, e in sorted(table.items())],
        schema)


def segment_summary(customers: DataFrame, codes: DataFrame,
                    partition_by: tuple[str, ...] = ()) -> DataFrame:
    """Per code (and partition): size, shares of customers and money, mean R, F and M.
    Codes nobody holds are included, with 0 customers."""
    sizes = customers.groupBy(*partition_by, "segment_code").agg(
        F.count(F.lit(1)).alias("customers"),
        F.sum("monetary").alias("monetary_total"),
        F.avg("recency_days").alias("mean_recency_days"),
        F.avg("frequency").alias("mean_frequency"),
        F.avg("monetary").alias("mean_monetary"),
    )
    customers_count = F.coalesce(F.col("customers"), F.lit(0))
    monetary_total = F.coalesce(F.col("monetary_total"), F.lit(0).cast(MONETARY))
    totals = sizes.groupBy(*partition_by).agg(F.sum("customers").alias("all_customers"),
                                              F.sum("monetary_total").alias("all_monetary"))
    # One row per partition (one row without partitions): every code in every partition.
    # A NULL partition value is a partition too, hence the null-safe join.
    every_code = codes.crossJoin(totals).alias("every")
    held = sizes.alias("held")
    same = reduce(lambda a, b: a & b, [F.col(f"every.{c}").eqNullSafe(F.col(f"held.{c}"))
                                       for c in (*partition_by, "segment_code")])
    return (
        every_code.join(held, same, "left")
        .select(
            *[F.col(f"every.{c}").alias(c) for c in (*partition_by, *codes.columns)],
            customers_count.alias("customers"),
            F.try_divide(customers_count, F.col("all_customers")).alias("share"),
            monetary_total.alias("monetary_total"),
            F.try_divide(monetary_total.cast("double"), F.col("all_monetary").cast("double"))
            .alias("monetary_share"),
            "mean_recency_days", "mean_frequency",
            F.col("mean_monetary").cast(MONETARY).alias("mean_monetary"),
        )
    )
