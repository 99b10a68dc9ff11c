"""Threshold drift, fill dynamics and customer history on hand-built run tables, and on
the 3 backfilled monthly runs."""
import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_approx_df_equality, assert_df_equality

from rfm_spark.history import customer_history, fill_dynamics, threshold_drift
from rfm_spark.lakehouse import read_table

D = dt.date
RUNS = [("r1", D(2024, 1, 31), "s1"), ("r2", D(2024, 2, 29), "s1"), ("r3", D(2024, 3, 31), "s1"),
        ("x", D(2024, 2, 15), "s2")]  # x: another scheme, compared with nothing

pytestmark = pytest.mark.e2e


def runs(spark):
    return spark.createDataFrame(
        [(run, as_of, dt.datetime(2024, 4, 1, i), scheme) for i, (run, as_of, scheme) in enumerate(RUNS)],
        "run_id string, as_of_date date, finished_at timestamp, scheme_sha256 string")


def as_of(run):
    return {r: d for r, d, _ in RUNS}[run]


def test_threshold_drift_is_the_change_since_the_previous_run_of_the_scheme(spark):
    thresholds = spark.createDataFrame(
        [(run, as_of(run), "recency", "quantile", 1, lo, hi, n, cuts, "right")
         for run, lo, hi, n, cuts in [("r2", 0.0, 12.0, 7, [12.0, 50.0]),
                                      ("r1", 1.0, 10.0, 5, [10.0, 50.0]),
                                      ("r3", 0.0, 12.0, 4, [12.0, 50.0]),
                                      ("x", 0.0, 9.0, 3, [9.0])]],
        "run_id string, as_of_date date, metric string, method string, grade int, "
        "min_value double, max_value double, customers long, cut_points array<double>, "
        "closed string")
    got = threshold_drift(thresholds, runs(spark)).select(
        "run_id", "previous_run_id", "cut_points", "cut_points_change", "customers",
        "customers_change")
    expected = spark.createDataFrame([
        ("r1", None, [10.0, 50.0], None, 5, None),
        ("r2", "r1", [12.0, 50.0], [2.0, 0.0], 7, 2),
        ("r3", "r2", [12.0, 50.0], [0.0, 0.0], 4, -3),
        ("x", None, [9.0], None, 3, None),
    ], "run_id string, previous_run_id string, cut_points array<double>, "
       "cut_points_change array<double>, customers long, customers_change long")
    assert_df_equality(got, expected, ignore_nullable=True)  # ordered by scheme, then date


def test_fill_dynamics_adds_codes_up_to_the_level(spark):
    segments = spark.createDataFrame(
        [(run, as_of(run), code, name, group, n, Decimal(m)) for run, code, name, group, n, m in [
            ("r1", "111", "VIP", "A", 3, "30"), ("r1", "211", "Sleeping", "B", 1, "10"),
            ("r2", "111", "VIP", "A", 2, "20"), ("r2", "211", "Sleeping", "B", 2, "5"),
            ("r2", "212", "Sleeping", "B", 1, "5"), ("r2", "311", "Gone", "C", 0, "0")]],
        "run_id string, as_of_date date, segment_code string, segment string, group string, "
        "customers long, monetary_total decimal(38,8)")
    got = fill_dynamics(segments, runs(spark), "group").select(
        "run_id", "value", "customers", "share", "monetary_share", "customers_change")
    expected = spark.createDataFrame([
        ("r1", "A", 3, 0.75, 0.75, None), ("r1", "B", 1, 0.25, 0.25, None),
        ("r2", "A", 2, 0.4, 2 / 3, -1), ("r2", "B", 3, 0.6, 1 / 3, 2),
        ("r2", "C", 0, 0.0, 0.0, None),
    ], "run_id string, value string, customers long, share double, monetary_share double, "
       "customers_change long")
    assert_approx_df_equality(got, expected, 1e-12, ignore_nullable=True)


def test_customer_history_lists_succeeded_runs_oldest_first(spark):
    columns = ("run_id string, as_of_date date, customer_id string, recency_days int, "
               "frequency long, monetary decimal(38,8), r_grade int, f_grade int, m_grade int, "
               "segment_code string, segment string, group string")
    customers = spark.createDataFrame([
        ("r2", D(2024, 2, 29), "c1", 3, 4, Decimal(9), 1, 1, 1, "111", "VIP", "A"),
        ("r1", D(2024, 1, 31), "c1", 40, 2, Decimal(5), 2, 2, 2, "222", "Mid", "B"),
        ("r1", D(2024, 1, 31), "c2", 1, 1, Decimal(1), 1, 3, 3, "133", "New", "A"),
        ("failed", D(2024, 3, 1), "c1", 0, 9, Decimal(99), 1, 1, 1, "111", "VIP", "A"),
    ], columns)
    got = [(r.run_id, r.segment) for r in customer_history(customers, runs(spark), "c1").collect()]
    assert got == [("r1", "Mid"), ("r2", "VIP")]


def test_history_of_the_backfilled_runs(spark, backfilled):
    lake = backfilled.lake
    succeeded = read_table(spark, lake, "rfm_runs")
    drift = threshold_drift(read_table(spark, lake, "rfm_thresholds"), succeeded)
    assert drift.count() == 3 * 9  # 3 runs x 3 metrics x 3 grades
    assert drift.where("previous_run_id IS NULL").count() == 9
    fill = fill_dynamics(read_table(spark, lake, "rfm_segments"), succeeded, "group")
    sizes = {(r.run_id, r.value): r.customers for r in fill.collect()}
    changes = fill.where("customers_change IS NOT NULL").collect()
    assert len(changes) == 2 * 3  # every run but the first, 3 groups
    previous = dict(zip([r.run_id for r in backfilled.results][1:],
                        [r.run_id for r in backfilled.results]))
    assert all(r.customers_change == r.customers - sizes[(previous[r.run_id], r.value)]
               for r in changes)
    totals = fill.groupBy("run_id").sum("customers", "share").collect()
    counts = {r.run_id: r.customer_count for r in backfilled.results}
    assert all(r["sum(customers)"] == counts[r.run_id] and abs(r["sum(share)"] - 1) < 1e-9
               for r in totals)
