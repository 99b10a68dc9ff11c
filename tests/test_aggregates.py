"""The report's aggregates on hand-built frames: bins chosen from a summary row, counts
per bin (NULLs, ties, values on an edge, below the first edge), grade cells and
segment sizes, each worked out by hand."""
import math
from decimal import Decimal

import pytest
from chispa import assert_approx_df_equality, assert_df_equality

from rfm_spark.aggregates import (BELOW_FIRST_EDGE, Bins, choose_bins, grade_cells, histogram,
                                  segment_sizes, value_summary)


def test_no_value_no_bins():
    assert choose_bins(None, None, None, None, True) is None


def test_a_short_integer_range_gets_a_bin_per_value():
    assert choose_bins(0, 3, 1, 1, True) == Bins((0.0, 1.0, 2.0, 3.0, 4.0), unit=True,
                                                 integral=True)


def test_a_long_integer_range_gets_whole_number_widths():
    bins = choose_bins(0, 730, 1, 300, True)  # 731 values, 40 bins: 19 days each
    assert bins.integral and not bins.unit and not bins.log
    assert bins.edges[:3] == (0.0, 19.0, 38.0)
    assert bins.edges[-1] == 741.0 and len(bins.edges) == 40  # 39 bins reach 730


def test_heavy_tailed_values_get_log_bins_with_exact_ends():
    bins = choose_bins(0.5, 1000.0, 0.5, 20.0, False)  # max / median = 50
    assert bins.log and len(bins.edges) == 41
    assert bins.edges[0] == 0.5 and bins.edges[-1] == 1000.0
    ratios = {round(b / a, 9) for a, b in zip(bins.edges, bins.edges[1:])}
    assert len(ratios) == 1  # equal steps on a log axis


def test_heavy_tailed_integers_get_integer_log_edges():
    bins = choose_bins(1, 500, 1, 4, True)  # orders: 1 .. 500, median 4
    assert bins.log and bins.integral
    assert bins.edges[:5] == (1.0, 2.0, 3.0, 4.0, 5.0)  # each bin holds a whole number
    assert bins.edges[-1] == 501.0 and all(e == int(e) for e in bins.edges)
    widths = [b - a for a, b in zip(bins.edges, bins.edges[1:])]
    assert widths == sorted(widths) and widths[0] == 1  # never narrower than the one before


def test_spread_decimals_get_equal_widths_and_one_value_gets_one_bin():
    bins = choose_bins(0.0, 10.0, 0.25, 5.0, False)
    assert bins.edges[:3] == (0.0, 0.25, 0.5) and bins.edges[-1] == 10.0
    assert len(bins.edges) == 41
    assert choose_bins(5.5, 5.5, 5.5, 5.5, False) == Bins((5.5, 6.5))


def test_histogram_counts_per_bin_left_closed_the_last_bin_closed(spark):
    frame = spark.createDataFrame(
        [(None,), (0.0,), (1.0,), (1.0,), (1.99,), (2.0,), (2.5,), (3.0,), (4.0,)], "v double")
    got = histogram(frame, "v", Bins((1.0, 2.0, 3.0, 4.0)))
    # 0 is under the first edge; 2.0 and 3.0 open their bins; 4.0, the last edge, is in
    # the last bin; NULL is left out.
    expected = spark.createDataFrame([(BELOW_FIRST_EDGE, 1), (0, 3), (1, 2), (2, 2)],
                                     "bin int, customers long")
    assert_df_equality(got, expected, ignore_nullable=True)


def test_histogram_of_decimals_by_log_bins(spark):
    frame = spark.createDataFrame([(Decimal(x),) for x in ("-5", "0", "0.1", "10", "10", "1000")],
                                  "m decimal(38,8)")
    bins = Bins((0.1, 1.0, 10.0, 100.0, 1000.0), log=True)
    expected = spark.createDataFrame([(BELOW_FIRST_EDGE, 2), (0, 1), (2, 2), (3, 1)],
                                     "bin int, customers long")
    assert_df_equality(histogram(frame, "m", bins), expected, ignore_nullable=True)


def test_value_summary_is_one_row(spark):
    frame = spark.createDataFrame([(0,), (5,), (5,), (10,), (None,)], "days int")
    row = value_summary(frame, "days").first()
    assert (row.low, row.high, row.positive_low, row.median, row.integral) == (
        0.0, 10.0, 5.0, 5.0, True)
    assert value_summary(spark.createDataFrame([(1.5,)], "x double"), "x").first().integral \
        is False


def test_grade_cells_count_customers_and_average_their_money(spark):
    customers = spark.createDataFrame(
        [(1, 1, Decimal("10")), (1, 1, Decimal("30")), (1, 2, Decimal("5")),
         (2, 1, Decimal("0")), (None, 1, Decimal("99")), (2, None, Decimal("99"))],
        "r_grade int, f_grade int, monetary decimal(38,8)")
    expected = spark.createDataFrame([(1, 1, 2, 20.0, 40.0), (1, 2, 1, 5.0, 5.0),
                                      (2, 1, 1, 0.0, 0.0)],
                                     "row int, column int, customers long, mean_monetary double, "
                                     "monetary_total double")
    assert_df_equality(grade_cells(customers), expected, ignore_nullable=True)


def test_segment_sizes_add_codes_up_and_weigh_means_by_customers(spark):
    segments = spark.createDataFrame(
        [("211", "Sleeping", "S", 3, 0.3, Decimal("30"), 0.6, 10.0, 2.0, Decimal("10"), "call"),
         ("212", "Sleeping", "S", 1, 0.1, Decimal("2"), 0.04, 30.0, 6.0, Decimal("2"), "call"),
         ("213", "Sleeping", "S", 0, 0.0, Decimal("0"), None, None, None, None, "call"),
         ("111", "VIP", "A", 6, 0.6, Decimal("18"), 0.36, 1.0, 9.0, Decimal("3"), None)],
        "segment_code string, segment string, group string, customers long, share double, "
        "monetary_total decimal(38,8), monetary_share double, mean_recency_days double, "
        "mean_frequency double, mean_monetary decimal(38,8), segment_action string")
    segments = segments.withColumn("group_action", segments.segment_action)
    expected = spark.createDataFrame(
        [("A", "VIP", 6, 0.6, 18.0, 0.36, 1.0, 9.0, 3.0, "111", None, None),
         # (3 x 10 + 1 x 30) / 4 = 15 days; (3 x 2 + 1 x 6) / 4 = 3; (30 + 2) / 4 = 8
         ("S", "Sleeping", 4, 0.4, 32.0, 0.64, 15.0, 3.0, 8.0, "211, 212, 213", "call", "call")],
        "group string, segment string, customers long, share double, monetary_total double, "
        "monetary_share double, mean_recency_days double, mean_frequency double, "
        "mean_monetary double, codes string, segment_action string, group_action string")
    assert_approx_df_equality(segment_sizes(segments), expected, 1e-9, ignore_nullable=True)


@pytest.mark.parametrize("low, high", [(0.5, 100.0), (0.003, 3e6)])
def test_log_bins_cover_the_range(low, high):
    bins = choose_bins(low, high, low, low * 2, False)
    assert bins.log and math.isclose(bins.edges[0], low) and bins.edges[-1] == high
