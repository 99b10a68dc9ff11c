"""Churn labels and features on a hand-built history: the label window, eligibility, and
no feature at t that depends on anything after t."""
import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from rfm_spark.churn.labels import LabelSpec, dates_frame, features, labels, observation_dates

D = dt.date.fromisoformat
T = D("2024-04-01")
HORIZON = 30  # (t - 30, t] = 03-03 .. 04-01 before; (t, t + 30] = 04-02 .. 05-01 after
HISTORY = [
    ("drops", D("2024-03-10"), 2, "20"), ("drops", T, 1, "5"),          # on t: before
    ("drops", D("2024-05-01"), 1, "7"),                                  # on t + 30: after
    ("stays", D("2024-03-15"), 1, "3"), ("stays", D("2024-04-15"), 1, "3"),
    ("stays", D("2024-04-20"), 1, "3"),
    ("new", D("2024-04-10"), 1, "9"),                                    # first after t
    ("gone", D("2024-01-05"), 1, "4"),                                   # long before t
    ("edges", D("2024-03-02"), 1, "1"),                                  # t - 30: outside
    ("edges", D("2024-05-02"), 1, "1"),                                  # t + 31: outside
]
SCHEMA = "customer_id string, purchase_date date, orders long, amount decimal(38,8)"


@pytest.fixture(scope="module")
def days(spark):
    return spark.createDataFrame([(c, d, o, Decimal(a)) for c, d, o, a in HISTORY], SCHEMA)


def labelled(spark, days, kind):
    found = labels(days, dates_frame(spark, [T]), LabelSpec(kind, HORIZON))
    return {row.customer_id: row.churned for row in found.collect()}


def test_drop_labels_compare_orders_after_t_with_the_horizon_before(spark, days):
    # drops: 3 orders before (one on t), 1 after (on t + 30): 1 < 1.0 x 3
    # new, gone, edges: no order in (t - 30, t], so not eligible
    assert labelled(spark, days, "drop") == {"drops": 1, "stays": 0}


def test_inactive_labels_need_a_purchase_on_or_before_t(spark, days):
    assert labelled(spark, days, "inactive") == {"drops": 0, "stays": 0, "gone": 1, "edges": 1}


def test_drop_ratio_and_minimum_orders(spark, days):
    spec = LabelSpec("drop", HORIZON, drop_ratio=0.3, min_orders=2)
    found = labels(days, dates_frame(spark, [T]), spec).collect()
    assert {r.customer_id: r.churned for r in found} == {"drops": 0}  # 1 >= 0.3 x 3


def test_features_at_t_by_hand(spark, days):
    rows = {r.customer_id: r for r in features(days, dates_frame(spark, [T])).collect()}
    assert set(rows) == {"drops", "stays", "gone", "edges"}  # "new" bought after t only
    drops = rows["drops"]
    assert (drops.recency_days, drops.tenure_days, drops.purchase_days, drops.orders) == (
        0, 22, 2, 3)
    assert (drops.money, drops.average_order_value) == (25.0, pytest.approx(25 / 3))
    assert (drops.gap_mean_days, drops.gap_std_days) == (22.0, 0.0)
    assert (drops.orders_30d, drops.money_30d, drops.orders_trend_30_90) == (3, 25.0, 1.0)
    assert (rows["gone"].orders_90d, rows["gone"].orders_30d, rows["gone"].recency_days) == (
        1, 0, 87)
    assert rows["gone"].orders_trend_30_90 == 0.0
    assert rows["gone"].gap_mean_days == -1.0  # one purchase day: no gap


def test_no_feature_at_t_depends_on_a_purchase_after_t(spark, days):
    later = spark.createDataFrame([("drops", D("2024-04-02"), 9, Decimal("900")),
                                   ("gone", D("2024-06-01"), 1, Decimal("1"))], SCHEMA)
    changed = days.where(days.purchase_date <= T).unionByName(later.where(
        later.purchase_date > T))
    observed = dates_frame(spark, [T])
    assert_df_equality(features(days, observed), features(changed, observed),
                       ignore_row_order=True)


def test_observation_dates_are_monthly_and_end_one_horizon_before_the_as_of_date():
    assert observation_dates(D("2020-09-22"), 90, 3) == [D("2020-04-24"), D("2020-05-24"),
                                                          D("2020-06-24")]
    # a month end stays a month end
    assert observation_dates(D("2020-12-31"), 92, 3) == [D("2020-07-31"), D("2020-08-31"),
                                                          D("2020-09-30")]
