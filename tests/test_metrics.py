import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from rfm_spark.clean import flag_rejects
from rfm_spark.config import ChurnPercentile, Clean, Metrics
from rfm_spark.metrics import (aggregate_customers, aggregate_daily, churn_period_days,
                               customer_metrics, purchase_rate,
                               snapshot_aggregate)
from rfm_spark.quality import reason_totals
from rfm_spark.read import TRANSACTION_SCHEMA

D = dt.date
AS_OF = D(2024, 1, 10)
# c1: order A spans two lines on 01-01, order B and C on 01-05 (two orders, one day).
# c2: no order id on one line: that line's order is its day.
ROWS = [
    ("c1", D(2024, 1, 1), 10.0, "A"), ("c1", D(2024, 1, 1), 5.0, "A"),
    ("c1", D(2024, 1, 5), 20.0, "B"), ("c1", D(2024, 1, 5), 1.0, "C"),
    ("c2", D(2024, 1, 10), 8.0, "D"), ("c2", D(2024, 1, 10), 2.0, None),
    (None, D(2024, 1, 3), 100.0, "E"),
]


def transaction(customer, day, amount, order=None):
    """A TRANSACTION_SCHEMA row: no quantity, store, country, channel or item."""
    return (customer, day, amount, order, None, None, None, None, None, False)


def aggregate(spark, has_order_id=True):
    full = [transaction(c, d, Decimal(str(a)), o) for c, d, a, o in ROWS]
    flagged = flag_rejects(spark.createDataFrame(full, TRANSACTION_SCHEMA), Clean(), AS_OF)
    return aggregate_customers(flagged, has_order_id)


def metrics(spark, frequency, monetary, has_order_id=True):
    return customer_metrics(aggregate(spark, has_order_id), AS_OF,
                            Metrics(frequency=frequency, monetary=monetary)
                            ).drop("frequency_rate")  # NULL unless frequency: rate


def expected(spark, c1, c2):
    return spark.createDataFrame(
        [("c1", D(2024, 1, 1), D(2024, 1, 5), 5, 9, *c1),
         ("c2", D(2024, 1, 10), D(2024, 1, 10), 0, 0, *c2)],
        "customer_id string, first_purchase_date date, last_purchase_date date, "
        "recency_days int, tenure_days int, frequency long, monetary decimal(38,8)")


def test_rows_and_sum(spark):
    assert_df_equality(metrics(spark, "rows", "sum"),
                       expected(spark, (4, Decimal(36)), (2, Decimal(10))),
                       ignore_row_order=True, ignore_nullable=True)


def test_orders_and_mean_order(spark):
    assert_df_equality(metrics(spark, "orders", "mean_order"),
                       expected(spark, (3, Decimal(12)), (2, Decimal(5))),
                       ignore_row_order=True, ignore_nullable=True)


def test_days(spark):
    assert_df_equality(metrics(spark, "days", "sum"),
                       expected(spark, (2, Decimal(36)), (1, Decimal(10))),
                       ignore_row_order=True, ignore_nullable=True)


def test_without_order_ids_an_order_is_a_day(spark):
    assert_df_equality(metrics(spark, "orders", "mean_order", has_order_id=False),
                       expected(spark, (2, Decimal(18)), (1, Decimal(10))),
                       ignore_row_order=True, ignore_nullable=True)


def test_reason_totals_add_up(spark):
    counts = {t.reason: (t.rows, t.amount, t.first, t.last)
              for t in reason_totals(aggregate(spark))}
    assert counts == {None: (6, Decimal(46), D(2024, 1, 1), D(2024, 1, 10)),
                      "missing_customer_id": (1, Decimal(100), D(2024, 1, 3), D(2024, 1, 3))}


def test_a_snapshot_of_the_daily_aggregate_equals_the_direct_aggregate(spark):
    # Extra rows: order D again on another day (counted once), a row after the as-of
    # date, one before a 9-day lookback, and a blank customer after the as-of date.
    # Under `net`, X orders are cancellations: c2's subtracts, c4 has nothing else.
    rows = ROWS + [("c2", D(2024, 1, 9), 4.0, "D"), ("c1", D(2024, 1, 12), 3.0, "F"),
                   ("c1", D(2024, 1, 1), 2.0, None), ("c3", D(2023, 12, 31), 1.0, "G"),
                   ("", D(2024, 1, 11), 1.0, "H"), ("c2", D(2024, 1, 8), 1.5, "X1"),
                   ("c4", D(2024, 1, 7), 2.0, "X2")]
    full = [transaction(c, d, Decimal(str(a)), o) for c, d, a, o in rows]
    transactions = spark.createDataFrame(full, TRANSACTION_SCHEMA)
    used = "reject_reason IS NULL"
    cases = [(Clean(lookback_days=10), has_order_id) for has_order_id in (True, False)]
    cases += [(Clean(lookback_days=10, cancellations="net", cancellation_prefix="X"), True)]
    for policy, has_order_id in cases:
        direct = aggregate_customers(flag_rejects(transactions, policy, AS_OF), has_order_id)
        daily = aggregate_daily(flag_rejects(transactions, policy, None), has_order_id)
        snapshot = snapshot_aggregate(daily, AS_OF, policy)
        assert_df_equality(snapshot.where(used), direct.where(used),
                           ignore_row_order=True, ignore_nullable=True)
        assert reason_totals(snapshot) == reason_totals(direct)
    netted = {r.customer_id: r for r in direct.where(used).collect()}
    # c2: orders D (twice) and its day's line, 8 + 2 + 4 - 1.5; c4: a cancellation only.
    assert (netted["c2"].orders, netted["c2"].days, netted["c2"].amount) == (2, 2, Decimal("12.5"))
    assert (netted["c4"].days, netted["c4"].netted_rows, netted["c4"].amount) == (
        0, 1, Decimal(-2))
    assert netted["c4"].last_purchase_date is None


def test_distinct_days_across_blocks_and_centuries_equal_a_plain_distinct_count(spark):
    from rfm_spark.metrics import BLOCK_DAYS
    epoch = D(1970, 1, 1)
    days = [0, 63, 64, BLOCK_DAYS - 1, BLOCK_DAYS, BLOCK_DAYS + 1, -1, -64, -65, 20000, 20000,
            -BLOCK_DAYS - 1, 40000]
    rows = [transaction(f"c{i % 3}", epoch + dt.timedelta(days=d), Decimal("1.5"))
            for i, d in enumerate(days)]
    rows += [transaction("c0", None, Decimal(1))]  # bad date: rejected
    flagged = flag_rejects(spark.createDataFrame(rows, TRANSACTION_SCHEMA), Clean(), None)
    got = aggregate_customers(flagged, has_order_id=False)
    expected = (flagged.groupBy("customer_id", "reject_reason")
                .agg(F.count(F.lit(1)).alias("rows"),
                     F.sum("amount").cast("decimal(38,8)").alias("amount"),
                     F.countDistinct("purchase_date").alias("orders"),
                     F.countDistinct("purchase_date").alias("days"),
                     F.min("purchase_date").alias("first_purchase_date"),
                     F.max("purchase_date").alias("last_purchase_date")))
    assert_df_equality(got.drop("netted_rows", "netted_amount"), expected,
                       ignore_row_order=True, ignore_nullable=True)


def test_purchase_rate_formula(spark):
    # Interval 21 days, churn period 105, as of 2024-06-30 (source 001's rules).
    as_of = dt.date(2024, 6, 30)
    day = lambda ago: as_of - dt.timedelta(days=ago)  # noqa: E731
    rows = [
        ("within_one_interval", day(21), day(21), 1),   # 1 interval: rate 1
        ("capped_at_as_of", day(175), day(61), 8),      # 175 days: 8 * 21 / 175 = 0.96
        ("one_purchase", day(105), day(105), 1),         # 105 days: 0.2
        ("churned", day(400), day(300), 2),              # until last + 105: 205 days
        ("today", day(0), day(0), 3),                    # 1 interval: rate 3
    ]
    frame = spark.createDataFrame(rows, "customer_id string, first_purchase_date date, "
                                        "last_purchase_date date, orders long")
    got = {r.customer_id: r.rate for r in
           frame.select("customer_id", purchase_rate(21, 105, as_of).alias("rate")).collect()}
    assert got == {"within_one_interval": Decimal("1"), "capped_at_as_of": Decimal("0.96"),
                   "one_purchase": Decimal("0.2"), "churned": Decimal("0.20487805"),
                   "today": Decimal("3")}


def test_churn_period_is_a_percentile_of_gaps_between_purchase_days(spark):
    # Gaps 10, 20 (a), 30 (b), 41 (c; the repeat on one day is no gap); d bought once.
    # 95th percentile of 10 20 30 41: rank 0.95 * 3 = 2.85 -> 30 + 0.85 * 11 = 39.35 -> 40.
    # 50th: rank 1.5 -> 25 exactly, not rounded up.
    d = dt.date.fromisoformat
    used = spark.createDataFrame(
        [("a", d("2024-01-01")), ("a", d("2024-01-11")), ("a", d("2024-01-31")),
         ("b", d("2024-02-01")), ("b", d("2024-03-02")), ("c", d("2024-01-01")),
         ("c", d("2024-02-11")), ("c", d("2024-02-11")), ("d", d("2024-05-05"))],
        "customer_id string, purchase_date date")
    assert churn_period_days(used, ChurnPercentile(percentile=95)) == 40
    assert churn_period_days(used, ChurnPercentile(percentile=50)) == 25
    assert churn_period_days(used, ChurnPercentile(percentile=50, exact=False)) == 20
    assert churn_period_days(used, 105) == 105
    with pytest.raises(ValueError, match="no customer bought on two different days"):
        churn_period_days(used.where("customer_id = 'd'"), ChurnPercentile(percentile=95))
