"""Segments stage: grade codes to named segments and groups, and the per-code summary."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import rules
from rfm_spark.config import SegmentRule
from rfm_spark.metrics import MONETARY


def assign_segments(graded: DataFrame, segment_rules: tuple[SegmentRule, ...],
                    grade_counts: tuple[int, ...]) -> DataFrame:
    """Adds segment_code (grade digits, R first), segment and group."""
    table = rules.code_table(segment_rules, grade_counts)
    code = F.concat(*[F.col(c).cast("string") for c in ("r_grade", "f_grade", "m_grade")])
    # A literal map: the code table is small and known before Spark starts, so no join.
    segment = F.create_map(*[F.lit(x) for c, rule in table.items() for x in (c, rule.name)])
    group = F.create_map(*[F.lit(x) for c, rule in table.items() for x in (c, rule.group)])
    return (graded.withColumn("segment_code", code)
            .withColumn("segment", F.element_at(segment, F.col("segment_code")))
            .withColumn("group", F.element_at(group, F.col("segment_code"))))


def code_frame(spark: SparkSession, segment_rules: tuple[SegmentRule, ...],
               grade_counts: tuple[int, ...]) -> DataFrame:
    """Every possible code with its segment and group, whether or not anyone holds it."""
    table = rules.code_table(segment_rules, grade_counts)
    return spark.createDataFrame(
        [(code, rule.name, rule.group) for code, rule in sorted(table.items())],
        "segment_code string, segment string, group string")


def segment_summary(customers: DataFrame, codes: DataFrame) -> DataFrame:
    """Per code: size, shares of customers and money, mean R, F and M. Empty codes included."""
    sizes = customers.groupBy("segment_code").agg(
        F.count(F.lit(1)).alias("customers"),
        F.sum("monetary").alias("monetary_total"),
        F.avg("recency_days").alias("mean_recency_days"),
        F.avg("frequency").alias("mean_frequency"),
        F.avg("monetary").alias("mean_monetary"),
    )
    customers_count = F.coalesce(F.col("customers"), F.lit(0))
    monetary_total = F.coalesce(F.col("monetary_total"), F.lit(0).cast(MONETARY))
    totals = sizes.agg(F.sum("customers").alias("all_customers"),
                       F.sum("monetary_total").alias("all_monetary"))
    return (
        codes.join(sizes, "segment_code", "left")
        .crossJoin(totals)  # one row
        .select(
            "segment_code", "segment", "group",
            customers_count.alias("customers"),
            F.try_divide(customers_count, F.col("all_customers")).alias("share"),
            monetary_total.alias("monetary_total"),
            F.try_divide(monetary_total.cast("double"), F.col("all_monetary").cast("double"))
            .alias("monetary_share"),
            "mean_recency_days", "mean_frequency",
            F.col("mean_monetary").cast(MONETARY).alias("mean_monetary"),
        )
    )
