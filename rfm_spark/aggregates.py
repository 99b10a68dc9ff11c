"""What the report's charts are drawn from: small aggregates of a run's tables, computed in
Spark. A chart never gets per-customer values: customers are counted per value bin, per
grade cell or per segment, so what reaches the driver is bounded by bins, grades and
segments, whatever the number of customers.

Histogram bins are chosen from one summary row per metric (`value_summary`, then the
pure `choose_bins`): one bin per value for integers with a short range, log-spaced bins
for heavy-tailed values (money, orders), equal-width bins otherwise.
"""
from __future__ import annotations

import dataclasses
import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

HISTOGRAM_BINS = 40
UNIT_BINS_UP_TO = 60      # an integer metric with at most this many values: a bin per value
HEAVY_TAIL_RATIO = 10.0   # largest value over the median above this: log-spaced bins
BELOW_FIRST_EDGE = -1     # the bin of values under the first edge (zero or negative, log bins)


@dataclasses.dataclass(frozen=True)
class Bins:
    """Bin i is [edges[i], edges[i + 1]); the last bin also holds its upper edge."""
    edges: tuple[float, ...]
    log: bool = False        # log-spaced: drawn on a log axis
    unit: bool = False       # one bin per integer value
    integral: bool = False   # the values are integers (and so are the edges)


def value_summary(frame: DataFrame, column: str) -> DataFrame:
    """One row: the column's smallest, largest and smallest positive value, an
    approximate median (rank error 1/1000), and whether it holds integers."""
    value = F.col(column).cast("double")
    integral = isinstance(frame.schema[column].dataType, (T.IntegerType, T.LongType))
    return frame.agg(F.min(value).alias("low"), F.max(value).alias("high"),
                     F.min(F.when(value > 0, value)).alias("positive_low"),
                     F.percentile_approx(value, 0.5, 1000).alias("median"),
                     F.lit(integral).alias("integral"))


def choose_bins(low: float | None, high: float | None, positive_low: float | None,
                median: float | None, integral: bool, bins: int = HISTOGRAM_BINS
                ) -> Bins | None:
    """The bins a metric's histogram is counted in; None when it holds no value. Integer
    values get integer edges, so no bin falls between two whole numbers."""
    if low is None or high is None:
        return None
    if integral and high - low + 1 <= UNIT_BINS_UP_TO:
        return Bins(tuple(float(v) for v in range(int(low), int(high) + 2)), unit=True,
                    integral=True)
    if positive_low is not None and median and median > 0 and high / median > HEAVY_TAIL_RATIO:
        return _log_bins(positive_low, high, integral, bins)
    if high == low:
        return Bins((low, low + 1.0), integral=integral)
    if integral:  # whole-number widths: each bin holds as many values
        width = math.ceil((high - low + 1) / bins)
        count = math.ceil((high - low + 1) / width)
        return Bins(tuple(float(low + i * width) for i in range(count + 1)), integral=True)
    width = (high - low) / bins
    return Bins(tuple(low + i * width for i in range(bins)) + (high,))


def _log_bins(positive_low: float, high: float, integral: bool, bins: int) -> Bins:
    """Log-spaced from the smallest positive value to the largest, both exact; integer
    edges (each bin then holds at least one whole number) when the values are integers."""
    start, stop = math.log10(positive_low), math.log10(high)
    inner = [10 ** (start + i * (stop - start) / bins) for i in range(1, bins)]
    if not integral:
        return Bins((positive_low, *inner, high), log=True)
    edges = [float(positive_low)]
    for target in (*inner, high + 1.0):
        if math.ceil(target) > edges[-1]:
            # Widths never shrink: a bin of 2 values after one of 3 would draw a false dip.
            width = edges[-1] - edges[-2] if len(edges) > 1 else 1.0
            edges.append(float(max(math.ceil(target), edges[-1] + width)))
    return Bins(tuple(edges), log=True, integral=True)


def histogram(frame: DataFrame, column: str, bins: Bins) -> DataFrame:
    """Customers per bin of `column` (NULLs left out): `bin` is the bin's index, or
    BELOW_FIRST_EDGE for values under the first edge. At most one row per bin."""
    value = F.col(column).cast("double")
    edges = F.array(*[F.lit(float(edge)) for edge in bins.edges])
    at_or_below = F.size(F.filter(edges, lambda edge: edge <= value)) - 1
    index = F.when(value < F.lit(float(bins.edges[0])), F.lit(BELOW_FIRST_EDGE)) \
        .otherwise(F.least(at_or_below, F.lit(len(bins.edges) - 2)))
    return (frame.where(value.isNotNull())
            .groupBy(index.alias("bin"))
            .agg(F.count(F.lit(1)).alias("customers"))
            .orderBy("bin"))


def grade_cells(customers: DataFrame, rows: str = "r_grade", columns: str = "f_grade"
                ) -> DataFrame:
    """Customers and their mean and total monetary per cell of two grades (NULL grades
    left out): at most grades x grades rows."""
    money = F.col("monetary").cast("double")
    return (customers.where(F.col(rows).isNotNull() & F.col(columns).isNotNull())
            .groupBy(F.col(rows).alias("row"), F.col(columns).alias("column"))
            .agg(F.count(F.lit(1)).alias("customers"), F.avg(money).alias("mean_monetary"),
                 F.sum(money).alias("monetary_total"))
            .orderBy("row", "column"))


def segment_sizes(segments: DataFrame) -> DataFrame:
    """rfm_segments rows (one per code and partition) added up per group and segment:
    customers, money, their shares, customer-weighted means, the codes and the actions.
    One row per segment."""
    weight = F.col("customers").cast("double")

    def weighted(column: str):
        return F.try_divide(F.sum(F.col(column).cast("double") * weight), F.sum(weight))
    return (segments.groupBy("group", "segment")
            .agg(F.sum("customers").alias("customers"), F.sum("share").alias("share"),
                 F.sum(F.col("monetary_total").cast("double")).alias("monetary_total"),
                 F.sum("monetary_share").alias("monetary_share"),
                 weighted("mean_recency_days").alias("mean_recency_days"),
                 weighted("mean_frequency").alias("mean_frequency"),
                 weighted("mean_monetary").alias("mean_monetary"),
                 F.array_join(F.array_sort(F.collect_set("segment_code")), ", ").alias("codes"),
                 F.max("segment_action").alias("segment_action"),
                 F.max("group_action").alias("group_action"))
            .orderBy("group", F.desc("customers"), "segment"))
