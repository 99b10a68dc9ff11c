"""Grades stage: R, F and M values to grades, and the record of how each was cut.

Every method produces `Bins`: the grades in ascending order of the metric's value with
each grade's upper bound. One CASE expression then grades every customer, so all
methods share the code that applies them and the way their cut points are recorded.

The quantile rule, exact and tie-safe: with N customers and k grades, a customer's grade
is 1 + floor(k * b / N), where b is the number of customers with a strictly better
value. Equal values therefore always share a grade; a value held by many customers can
leave a grade empty. It is computed from the histogram of values with windows
partitioned by value range, so no task ever holds all customers.
"""
from __future__ import annotations

import dataclasses
from decimal import Decimal

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from rfm_spark.config import GRADED_METRICS, Grading, MetricGrading
from rfm_spark.metrics import MONETARY

# Lower recency is better; higher frequency and monetary are better.
LOWER_IS_BETTER = {"recency": True, "frequency": False, "monetary": False}
VALUE_COLUMN = {"recency": "recency_days", "frequency": "frequency", "monetary": "monetary"}
GRADE_COLUMN = {"recency": "r_grade", "frequency": "f_grade", "monetary": "m_grade"}


@dataclasses.dataclass(frozen=True)
class Bins:
    """Grades in ascending value order; a value v is in the first bin with v <= upper
    (closed 'right') or v < upper (closed 'left'); the last bin is open (upper None)."""
    metric: str
    method: str
    grade_count: int
    grades: tuple[int, ...]
    uppers: tuple[int | Decimal | None, ...]  # exact, so v <= upper compares exactly
    closed: str

    @property
    def cut_points(self) -> list[float]:
        return [float(upper) for upper in self.uppers if upper is not None]

    def grade_of(self, value: Column) -> Column:
        below = (lambda upper: value <= upper) if self.closed == "right" else (
            lambda upper: value < upper)
        grade = F.lit(self.grades[-1])
        for grade_number, upper in reversed(list(zip(self.grades[:-1], self.uppers[:-1]))):
            grade = F.when(below(F.lit(upper)), F.lit(grade_number)).otherwise(grade)
        return grade


def apply_grades(customers: DataFrame, bins: dict[str, Bins]) -> DataFrame:
    """Adds r_grade, f_grade and m_grade."""
    return customers.select(
        "*", *[bins[m].grade_of(F.col(VALUE_COLUMN[m])).alias(GRADE_COLUMN[m])
               for m in GRADED_METRICS])


def metric_bins(customers: DataFrame, grading: Grading) -> dict[str, Bins]:
    """The bins of each graded metric; all quantile metrics share one small Spark job."""
    specs = {metric: getattr(grading, metric) for metric in GRADED_METRICS}
    quantiles = _quantile_bins(customers, {metric: spec.grades for metric, spec in specs.items()
                                           if spec.method == "quantile"}, grading.best)
    return {metric: quantiles[metric] if spec.method == "quantile"
            else _threshold_bins(metric, spec, grading.best)
            for metric, spec in specs.items()}


def _threshold_bins(metric: str, spec: MetricGrading, best: str) -> Bins:
    positions = range(spec.grades)
    grades = [_grade_number(i, spec.grades, LOWER_IS_BETTER[metric], best) for i in positions]
    # Decimal of the text of the number: the cut 0.1 is 0.1, not the nearest double.
    cuts = tuple(Decimal(repr(cut)) for cut in spec.cuts)
    return Bins(metric, "thresholds", spec.grades, tuple(grades), cuts + (None,), spec.closed)


def _grade_number(position: int, grades: int, lower_is_better: bool, best: str) -> int:
    """Grade of the bin at `position` (0 = lowest values), with 1 = best unless best=highest."""
    grade = position + 1 if lower_is_better else grades - position
    return grade if best == "lowest" else grades + 1 - grade


def _quantile_bins(customers: DataFrame, grade_counts: dict[str, int], best: str
                   ) -> dict[str, Bins]:
    """Quantile bins of several metrics from one histogram of (metric, value) pairs."""
    if not grade_counts:
        return {}
    spark = customers.sparkSession
    parts = int(spark.conf.get("spark.sql.shuffle.partitions"))
    # Every metric's values as exact decimals, so one histogram holds them all.
    pairs = F.explode(F.array(*[
        F.struct(F.lit(m).alias("metric"), F.col(VALUE_COLUMN[m]).cast(MONETARY).alias("value"))
        for m in grade_counts]))
    histogram = (customers.select(pairs.alias("pair"))
                 .groupBy("pair.metric", "pair.value").agg(F.count(F.lit(1)).alias("n"))
                 .repartitionByRange(parts, "metric", "value")
                 .withColumn("part", F.spark_partition_id())
                 .cache())
    try:
        # One row per metric and range partition.
        totals = sorted(histogram.groupBy("metric", "part").agg(F.sum("n").alias("n")).collect())
        offsets, customers_total = {}, {}
        for metric, part, count in totals:
            offsets[(metric, part)] = customers_total.get(metric, 0)
            customers_total[metric] = customers_total.get(metric, 0) + count
        key = F.concat_ws(":", "metric", F.col("part").cast("string"))
        offset = F.create_map(*[F.lit(x) for (metric, part), value in offsets.items()
                                for x in (f"{metric}:{part}", value)])
        within_part = W.partitionBy("metric", "part").orderBy("value").rowsBetween(
            W.unboundedPreceding, -1)
        below = F.element_at(offset, key) + F.coalesce(F.sum("n").over(within_part), F.lit(0))
        total = F.element_at(F.create_map(*[F.lit(x) for item in customers_total.items()
                                            for x in item]), F.col("metric"))
        grades = F.element_at(F.create_map(*[F.lit(x) for item in grade_counts.items()
                                             for x in item]), F.col("metric"))
        lower_is_better = F.col("metric").isin([m for m in grade_counts if LOWER_IS_BETTER[m]])
        better = F.when(lower_is_better, below).otherwise(total - below - F.col("n"))
        # Exact: both operands are integers far below 2**53.
        quantile_grade = 1 + F.floor(grades * better / total)
        rows = (histogram  # one row per metric and grade
                .select("metric", "value", quantile_grade.cast("int").alias("grade"))
                .groupBy("metric", "grade").agg(F.min("value").alias("low"),
                                                F.max("value").alias("high"))
                .collect())
    finally:
        histogram.unpersist()
    return {metric: _bins_from_grades(metric, grades, [r for r in rows if r.metric == metric], best)
            for metric, grades in grade_counts.items()}


def _bins_from_grades(metric: str, grades: int, rows: list, best: str) -> Bins:
    ascending = sorted(rows, key=lambda row: row["low"])
    grade_numbers = tuple(row["grade"] if best == "lowest" else grades + 1 - row["grade"]
                          for row in ascending)
    exact = (lambda value: value) if metric == "monetary" else int
    uppers = tuple(exact(row["high"]) for row in ascending[:-1]) + (None,)
    return Bins(metric, "quantile", grades, grade_numbers, uppers, "right")


def thresholds_table(graded: DataFrame, bins: dict[str, Bins]) -> DataFrame:
    """Per metric and grade: the values it holds, its customers and the cut points used."""
    entries = F.explode(F.array(*[
        F.struct(F.lit(m).alias("metric"), F.col(GRADE_COLUMN[m]).alias("grade"),
                 F.col(VALUE_COLUMN[m]).cast("double").alias("value"))
        for m in GRADED_METRICS]))
    observed = (graded.select(entries.alias("entry")).select("entry.*")
                .groupBy("metric", "grade")
                .agg(F.min("value").alias("min_value"), F.max("value").alias("max_value"),
                     F.count(F.lit(1)).alias("customers")))
    spark = graded.sparkSession
    recorded = spark.createDataFrame(
        [(b.metric, b.method, grade, b.closed, b.cut_points)
         for b in bins.values() for grade in range(1, b.grade_count + 1)],
        "metric string, method string, grade int, closed string, cut_points array<double>")
    return (recorded.join(observed, ["metric", "grade"], "left")
            .select("metric", "method", "grade", "min_value", "max_value",
                    F.coalesce("customers", F.lit(0)).alias("customers"),
                    "cut_points", "closed"))
