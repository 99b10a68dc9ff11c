"""Grades stage: metric values to grades, and the record of how each was cut.

Every method ends in `Cuts`: ascending cut points, whether a value equal to a cut falls
in the lower-value bin (`inclusive`), and each bin's grade. One rule then grades every
customer: bin = number of cuts the value is beyond. Cuts are computed per *scope*: the
whole population, or each partition (`grading.partition_by`) and, for nested grading
(`within`), each grade of the outer metrics.

Methods:
- quantile: exact and tie-safe. With N customers and k grades, a customer's grade is
  1 + floor(k * b / N), b = customers with a strictly better value; equal values share
  a grade, and a value held by many customers can leave a grade empty.
- percentiles: cut points at the given percentiles, exact with linear interpolation
  between the two nearest ranks (numpy's and pandas' default), or percentile_approx.
- iqr: Q1, Q3 and the upper whisker Q3 + 1.5 (Q3 - Q1).
- mean: one cut at the mean; a value equal to the mean counts as the worse grade.
- thresholds: fixed cut points (a cut may be the churn period).

Exact methods work from one histogram of (metric, scope, value) per round of metrics,
range-partitioned, so no task ever holds all customers.
"""
from __future__ import annotations

import dataclasses
import math
from decimal import ROUND_HALF_UP, Decimal

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from rfm_spark.config import Grading, MetricGrading
from rfm_spark.metrics import MONETARY
from rfm_spark.registry import METRICS

_CUT_SCALE = Decimal("0.00000001")  # MONETARY's scale


@dataclasses.dataclass(frozen=True)
class Cuts:
    """One metric's bins in one scope, in ascending value order."""
    method: str
    uppers: tuple[Decimal, ...]
    inclusive: tuple[bool, ...]
    grades: tuple[int, ...]          # one per bin: len(uppers) + 1

    @property
    def closed(self) -> str:
        sides = ["right" if inclusive else "left" for inclusive in self.inclusive]
        return sides[0] if len(set(sides)) == 1 else ",".join(sides)


@dataclasses.dataclass(frozen=True)
class GradingPlan:
    """What grading needs besides the customers: the config, the value columns, the
    scope columns (partitions) and the churn period, when known."""
    grading: Grading
    frequency: str
    partition_by: tuple[str, ...] = ()
    churn_days: int | None = None

    def value(self, metric: str) -> Column:
        return F.col(METRICS[metric].value_column_for(self.frequency)).cast(MONETARY)

    def scope(self, metric: str) -> Column:
        """Text naming the population a customer is graded in, e.g. `store=3, r_grade=1`;
        empty for the whole population."""
        spec = self.grading.of(metric)
        if spec.method == "thresholds":
            return F.lit("")
        keys = list(self.partition_by) + [METRICS[m].grade_column for m in spec.within]
        if not keys:
            return F.lit("")
        return F.concat_ws(", ", *[F.concat(F.lit(f"{key}="), F.coalesce(
            F.col(key).cast("string"), F.lit("(null)"))) for key in keys])


def grade(customers: DataFrame, plan: GradingPlan, orders: DataFrame | None = None
          ) -> tuple[DataFrame, dict[tuple[str, str], Cuts]]:
    """Adds a grade column per graded metric; returns the cuts used per (metric, scope).
    `orders` (scope columns + `amount`) is the population of `of: orders`."""
    all_cuts: dict[tuple[str, str], Cuts] = {}
    for round_metrics in plan.grading.rounds():
        cuts = _round_cuts(customers, plan, round_metrics, orders)
        all_cuts.update(cuts)
        for metric in round_metrics:
            customers = _apply(customers, plan, metric,
                               {scope: c for (m, scope), c in cuts.items() if m == metric})
    return customers, all_cuts


def _apply(customers: DataFrame, plan: GradingPlan, metric: str, cuts: dict[str, Cuts]
           ) -> DataFrame:
    value, column = plan.value(metric), METRICS[metric].grade_column
    if set(cuts) == {""}:  # one scope: literal comparisons, no join
        return customers.withColumn(column, _case(value, cuts[""]))
    table = customers.sparkSession.createDataFrame(
        [(scope, list(c.uppers), list(c.inclusive), list(c.grades)) for scope, c in cuts.items()],
        "cut_scope string, uppers array<decimal(38,8)>, inclusive array<boolean>, "
        "grades array<int>")
    beyond = F.filter(F.arrays_zip("uppers", "inclusive"), lambda cut: (value > cut["uppers"]) | (
        (value == cut["uppers"]) & ~cut["inclusive"]))
    return (customers.withColumn("cut_scope", plan.scope(metric))
            .join(F.broadcast(table), "cut_scope", "left")  # every scope has cuts
            .withColumn(column, F.element_at("grades", F.size(beyond) + 1))
            .drop("cut_scope", "uppers", "inclusive", "grades"))


def _case(value: Column, cuts: Cuts) -> Column:
    graded = F.lit(cuts.grades[-1])
    for upper, inclusive, grade_number in reversed(list(zip(cuts.uppers, cuts.inclusive,
                                                             cuts.grades))):
        below = value <= F.lit(upper) if inclusive else value < F.lit(upper)
        graded = F.when(below, F.lit(grade_number)).otherwise(graded)
    return graded


def _round_cuts(customers: DataFrame, plan: GradingPlan, metrics: tuple[str, ...],
                orders: DataFrame | None) -> dict[tuple[str, str], Cuts]:
    specs = {m: plan.grading.of(m) for m in metrics}

    exact = [m for m, s in specs.items()
             if s.method == "quantile" or (s.method in ("percentiles", "iqr") and s.exact)]
    ranked = _Ranked.of(_pairs(customers, orders, plan, exact)) if exact else None
    quantiles = {m: s.grade_count for m, s in specs.items() if s.method == "quantile"}
    cuts: dict[tuple[str, str], Cuts] = {}
    try:
        if quantiles:
            cuts.update(ranked.quantile_cuts(quantiles, plan.grading.best))
        for metric, spec in specs.items():
            if spec.method == "thresholds":
                cuts[(metric, "")] = _threshold_cuts(metric, spec, plan)
            elif spec.method != "quantile":
                levels = _levels(spec)
                population = _pairs(customers, orders, plan, [metric])
                values = (ranked.percentiles(metric, levels) if metric in exact
                          else _aggregate_cuts(population, spec, levels))
                cuts.update({(metric, scope): _cut_points(metric, spec, points, plan.grading.best)
                             for scope, points in values.items()})
    finally:
        if ranked is not None:
            ranked.release()
    return cuts


def _levels(spec: MetricGrading) -> list[Decimal]:
    """The percentile levels (0..1) a method needs."""
    if spec.method == "iqr":
        return [Decimal("0.25"), Decimal("0.75")]
    if spec.method == "percentiles":
        return [Decimal(repr(p)) / 100 for p in spec.at]
    return []


def _aggregate_cuts(population: DataFrame, spec: MetricGrading, levels: list[Decimal]
                    ) -> dict[str, list[Decimal]]:
    """Per scope: approximate percentiles, or the mean. One row per scope is collected."""
    if spec.method == "mean":
        points = F.array(F.avg("value").cast(MONETARY))
    else:
        points = F.percentile_approx("value", [float(level) for level in levels], spec.accuracy)
    rows = population.groupBy("scope").agg(points.alias("points")).collect()  # one per scope
    return {row["scope"]: list(row["points"]) for row in rows}


def _cut_points(metric: str, spec: MetricGrading, points: list[Decimal], best: str) -> Cuts:
    if spec.method == "iqr":
        q1, q3 = points
        points = [q1, q3, (q3 + (q3 - q1) * Decimal("1.5")).quantize(_CUT_SCALE, ROUND_HALF_UP)]
    # A value equal to the mean is the worse grade; percentile cuts are closed right.
    inclusive = not METRICS[metric].lower_is_better if spec.method == "mean" else True
    return _fixed_cuts(metric, spec.method, points, [inclusive] * len(points), best)


def _threshold_cuts(metric: str, spec: MetricGrading, plan: GradingPlan) -> Cuts:
    parsed = spec.parsed_cuts()
    values = [Decimal(plan.churn_days) if value == "churn_period" else value
              for value, _ in parsed]
    if values != sorted(set(values)):
        raise ValueError(f"grading.{metric}.cuts {values} are not strictly increasing "
                         f"with the churn period of {plan.churn_days} days")
    return _fixed_cuts(metric, "thresholds", values, [inclusive for _, inclusive in parsed],
                       plan.grading.best)


def _fixed_cuts(metric: str, method: str, uppers: list[Decimal], inclusive: list[bool],
                best: str) -> Cuts:
    count = len(uppers) + 1
    grades = tuple(_grade_number(position, count, METRICS[metric].lower_is_better, best)
                   for position in range(count))
    return Cuts(method, tuple(uppers), tuple(inclusive), grades)


def _grade_number(position: int, grades: int, lower_is_better: bool, best: str) -> int:
    """Grade of the bin at `position` (0 = lowest values), with 1 = best unless best=highest."""
    grade_number = position + 1 if lower_is_better else grades - position
    return grade_number if best == "lowest" else grades + 1 - grade_number


def _pairs(customers: DataFrame, orders: DataFrame | None, plan: GradingPlan,
           metrics: list[str]) -> DataFrame:
    """(metric, scope, value) of every metric's population: one pass over the customers
    for all the metrics cut from them, plus the orders for `of: orders`."""
    def pair(metric: str, value: Column) -> Column:
        return F.struct(F.lit(metric).alias("metric"), plan.scope(metric).alias("scope"),
                        value.cast(MONETARY).alias("value"))

    by_customer = [m for m in metrics if plan.grading.of(m).of == "customers"]
    frames = [customers.select(F.explode(F.array(*[pair(m, plan.value(m)) for m in by_customer]))
                               .alias("pair")).select("pair.*")] if by_customer else []
    if len(by_customer) < len(metrics):  # monetary cut from the orders
        frames.append(orders.select(pair("monetary", F.col("amount")).alias("pair"))
                      .select("pair.*"))
    return frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])


class _Ranked:
    """A cached histogram of (metric, scope, value) with each value's count `n`, the
    number of smaller values `below` and the size of its series `total`."""

    def __init__(self, histogram: DataFrame, cached: DataFrame,
                 totals: dict[tuple[str, str], int]):
        self.histogram, self._cached, self.totals = histogram, cached, totals

    @classmethod
    def of(cls, pairs: DataFrame) -> _Ranked:
        spark = pairs.sparkSession
        # Several ranges per task: the windows below are hash-partitioned by range, so
        # more, smaller ranges spread evenly over the tasks.
        parts = 4 * _shuffle_partitions(spark)
        histogram = (pairs.groupBy("metric", "scope", "value").agg(F.count(F.lit(1)).alias("n"))
                     .repartitionByRange(parts, "metric", "scope", "value")
                     .withColumn("part", F.spark_partition_id())
                     .cache())
        # One row per series and range partition: a series spans few partitions.
        sizes = sorted(histogram.groupBy("metric", "scope", "part")
                       .agg(F.sum("n").alias("n")).collect())  # a row per series and range
        offsets, totals = {}, {}
        for metric, scope, part, count in sizes:
            offsets[f"{metric}\x01{scope}\x01{part}"] = totals.get((metric, scope), 0)
            totals[(metric, scope)] = totals.get((metric, scope), 0) + count
        key = F.concat_ws("\x01", "metric", "scope", F.col("part").cast("string"))
        offset = F.create_map(*[F.lit(x) for item in offsets.items() for x in item])
        within_part = W.partitionBy("metric", "scope", "part").orderBy("value").rowsBetween(
            W.unboundedPreceding, -1)
        below = F.element_at(offset, key) + F.coalesce(F.sum("n").over(within_part), F.lit(0))
        total = F.element_at(F.create_map(*[F.lit(x) for (m, s), n in totals.items()
                                            for x in (f"{m}\x01{s}", n)]),
                             F.concat_ws("\x01", "metric", "scope"))
        ranked = histogram.select("metric", "scope", "value", "n", below.alias("below"),
                                  total.alias("total"))
        return cls(ranked, histogram, totals)

    def release(self) -> None:
        self._cached.unpersist()

    def quantile_cuts(self, grade_counts: dict[str, int], best: str
                      ) -> dict[tuple[str, str], Cuts]:
        """The quantile bins of several metrics, in one small job."""
        lower_is_better = F.col("metric").isin([m for m in grade_counts if METRICS[m].lower_is_better])
        better = F.when(lower_is_better, F.col("below")).otherwise(
            F.col("total") - F.col("below") - F.col("n"))
        grades = F.element_at(F.create_map(*[F.lit(x) for item in grade_counts.items()
                                             for x in item]), F.col("metric"))
        # Exact: both operands are integers far below 2**53.
        grade_number = (1 + F.floor(grades * better / F.col("total"))).cast("int")
        rows = (self.histogram.where(F.col("metric").isin(list(grade_counts)))
                .groupBy("metric", "scope", grade_number.alias("grade"))
                .agg(F.max("value").alias("high"))
                .collect())  # one row per metric, scope and grade
        cuts = {}
        for key in {(row["metric"], row["scope"]) for row in rows}:
            count = grade_counts[key[0]]
            ascending = sorted((r for r in rows if (r["metric"], r["scope"]) == key),
                               key=lambda r: r["high"])
            numbers = tuple(r["grade"] if best == "lowest" else count + 1 - r["grade"]
                            for r in ascending)
            uppers = tuple(r["high"] for r in ascending[:-1])
            cuts[key] = Cuts("quantile", uppers, (True,) * len(uppers), numbers)
        return cuts

    def percentiles(self, metric: str, levels: list[Decimal]) -> dict[str, list[Decimal]]:
        """Exact percentiles per scope: at level p the rank h = p (N - 1) (0-based), between
        the values at ranks floor(h) and ceil(h), interpolated linearly."""
        spark = self.histogram.sparkSession
        wanted = {}
        for (m, scope), total in self.totals.items():
            if m != metric:
                continue
            for level in levels:
                rank = level * (total - 1)
                wanted[(scope, level)] = (rank, math.floor(rank), math.ceil(rank))
        ranks = spark.createDataFrame(
            sorted({(scope, r) for (scope, _), (_, low, high) in wanted.items()
                    for r in (low, high)}), "scope string, rank long")
        holds = ((F.col("below") <= F.col("rank")) & (F.col("rank") < F.col("below") + F.col("n")))
        rows = (self.histogram.where(F.col("metric") == metric)
                .join(F.broadcast(ranks), "scope").where(holds)
                .select("scope", "rank", "value").collect())  # two rows per scope and level
        value_at = {(row["scope"], row["rank"]): row["value"] for row in rows}
        points: dict[str, list[Decimal]] = {}
        for (scope, level), (rank, low, high) in sorted(wanted.items()):
            low_value, high_value = value_at[(scope, low)], value_at[(scope, high)]
            point = low_value + (rank - low) * (high_value - low_value)
            points.setdefault(scope, []).append(point.quantize(_CUT_SCALE, ROUND_HALF_UP))
        return points


def _shuffle_partitions(spark) -> int:
    """The session's shuffle partitions; Databricks' `auto` lets AQE choose, from 200."""
    setting = spark.conf.get("spark.sql.shuffle.partitions")
    return int(setting) if setting.isdigit() else 200


def thresholds_table(graded: DataFrame, plan: GradingPlan,
                     cuts: dict[tuple[str, str], Cuts]) -> DataFrame:
    """Per metric, scope and grade: the values it holds, its customers and the cut points."""
    entries = F.explode(F.array(*[
        F.struct(F.lit(m).alias("metric"), plan.scope(m).alias("scope"),
                 F.col(METRICS[m].grade_column).alias("grade"),
                 plan.value(m).cast("double").alias("value"))
        for m in plan.grading.metrics]))
    observed = (graded.select(entries.alias("entry")).select("entry.*")
                .groupBy("metric", "scope", "grade")
                .agg(F.min("value").alias("min_value"), F.max("value").alias("max_value"),
                     F.count(F.lit(1)).alias("customers")))
    recorded = graded.sparkSession.createDataFrame(
        [(metric, scope, c.method, grade_number, c.closed, [float(u) for u in c.uppers])
         for (metric, scope), c in sorted(cuts.items()) for grade_number in range(
             1, plan.grading.of(metric).grade_count + 1)],
        "metric string, scope string, method string, grade int, closed string, "
        "cut_points array<double>")
    return (recorded.join(observed, ["metric", "scope", "grade"], "left")
            .select("metric", "method", "grade", "min_value", "max_value",
                    F.coalesce("customers", F.lit(0)).alias("customers"),
                    "cut_points", "closed", "scope"))
