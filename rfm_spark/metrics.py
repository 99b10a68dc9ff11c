"""Metrics stage: transactions to one row per customer.

`aggregate_customers` makes the only pass over the transactions: it aggregates per
customer and reject reason, so the same (small) result gives both the per-customer
metrics (reason NULL) and the reject counts. An order is an `order_id` when one is
mapped, otherwise a customer's purchases on one day.

A backfill (many as-of dates) instead aggregates once per customer and day
(`aggregate_daily`) and derives each date's per-customer aggregate from that
(`snapshot_aggregate`), giving the same rows as `aggregate_customers` would.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rfm_spark.clean import flag_as_of
from rfm_spark.config import ChurnPercentile, Clean, Metrics

MONETARY = T.DecimalType(38, 8)

# Distinct days are counted as bits: one bit per day in words of 64 days, WORDS words per
# block of days. Bit-or merges map-side in Spark's fast hash aggregation, where a set of
# dates (collect_set) needs the object-based one and was measured 1.7x slower.
WORDS = 8
BLOCK_DAYS = 64 * WORDS


def aggregate_customers(flagged: DataFrame, has_order_id: bool,
                        partition_by: tuple[str, ...] = ()) -> DataFrame:
    """Per (customer_id, partition columns, reject_reason): rows, amount, orders, days,
    first and last purchase date, and the netted cancellations' rows and amount (in
    `rows` and `amount` too, but bought nothing: not in orders, days or dates).

    Without an order id (an order is a day), the rows are first aggregated per customer,
    reason and block of BLOCK_DAYS days, with a bitmap of the days bought on; a second,
    small aggregation adds the blocks up. With an order id, one aggregation counts the
    sets of days and of orders.
    """
    bought = ~F.col("netted")
    purchase_date = F.when(bought, F.col("purchase_date"))
    netted = [F.count(F.when(F.col("netted"), 1)).alias("netted_rows"),
              F.sum(F.when(F.col("netted"), F.col("amount"))).alias("netted_amount")]
    if has_order_id:
        days = F.size(F.collect_set(purchase_date))
        orders = F.size(F.collect_set(F.when(bought, F.coalesce(F.col("order_id"),
                                                                 _day_key()))))
        return (flagged
                .groupBy("customer_id", *partition_by, "reject_reason")
                .agg(F.count(F.lit(1)).alias("rows"),
                     F.sum("amount").cast(MONETARY).alias("amount"),
                     orders.cast("long").alias("orders"),
                     days.cast("long").alias("days"),
                     F.min(purchase_date).alias("first_purchase_date"),
                     F.max(purchase_date).alias("last_purchase_date"),
                     *netted)
                .transform(_netted_types))
    netted_row = F.when(F.col("netted"), F.lit(1)).otherwise(F.lit(0))
    return _by_day_bitmaps(flagged, ("customer_id", *partition_by, "reject_reason"),
                           bought, F.lit(1), netted_row,
                           F.when(F.col("netted"), F.col("amount")))


def _by_day_bitmaps(rows: DataFrame, keys: tuple[str, ...], bought: Column, row_count: Column,
                    netted_rows: Column, netted_amount: Column) -> DataFrame:
    """`aggregate_customers`' columns per `keys` when an order is a day, from transactions
    or customer-days (`row_count`, `netted_rows`, `netted_amount`: what each row adds):
    aggregated per key and block of BLOCK_DAYS days, with a bitmap of the days bought on,
    then the blocks (usually one or two per key) added up."""
    purchase_date = F.when(bought, F.col("purchase_date"))
    day_number = F.datediff("purchase_date", F.lit(dt.date(1970, 1, 1)))
    day_in_block = F.pmod(day_number, F.lit(BLOCK_DAYS))
    # shiftleft takes a column as the shift only in SQL; the text is a constant.
    day_bit = F.expr("shiftleft(1L, cast(day_in_block % 64 AS INT))")
    words = [F.bit_or(F.when(bought & (F.floor(F.col("day_in_block") / 64) == word), day_bit)
                      .otherwise(F.lit(0).cast("long"))).alias(f"days_{word}")
             for word in range(WORDS)]
    days = sum((F.bit_count(f"days_{word}") for word in range(1, WORDS)),
               F.bit_count("days_0"))
    return (
        rows
        .withColumn("day_in_block", day_in_block)
        .groupBy(*keys, F.floor(day_number / BLOCK_DAYS).alias("block"))  # NULL: bad dates
        .agg(F.sum(row_count).alias("rows"), F.sum("amount").alias("amount"), *words,
             F.min(purchase_date).alias("first_purchase_date"),
             F.max(purchase_date).alias("last_purchase_date"),
             F.sum(netted_rows).alias("netted_rows"),
             F.sum(netted_amount).alias("netted_amount"))
        .groupBy(*keys)
        .agg(F.sum("rows").alias("rows"),
             F.sum("amount").cast(MONETARY).alias("amount"),
             F.sum(days).cast("long").alias("orders"),
             F.sum(days).cast("long").alias("days"),
             F.min("first_purchase_date").alias("first_purchase_date"),
             F.max("last_purchase_date").alias("last_purchase_date"),
             F.sum("netted_rows").alias("netted_rows"),
             F.sum("netted_amount").alias("netted_amount"))
        .transform(_netted_types)
    )


def aggregate_daily(flagged: DataFrame, has_order_id: bool,
                    group_by: tuple[str, ...] = ()) -> DataFrame:
    """Per (customer_id, `group_by` columns, purchase_date, reject_reason): rows, amount,
    `purchases` (rows that are no netted cancellation), the netted rows and amount and,
    with an order id, the set of that day's order keys. Flag without an as-of date."""
    bought = ~F.col("netted")
    order_keys = ([F.collect_set(F.when(bought, F.coalesce(F.col("order_id"), _day_key())))
                   .alias("order_keys")] if has_order_id else [])
    return (flagged
            .groupBy("customer_id", *group_by, "purchase_date", "reject_reason")
            .agg(F.count(F.lit(1)).alias("rows"), F.sum("amount").alias("amount"),
                 F.count(F.when(bought, 1)).alias("purchases"),
                 F.count(F.when(F.col("netted"), 1)).alias("netted_rows"),
                 F.sum(F.when(F.col("netted"), F.col("amount"))).alias("netted_amount"),
                 *order_keys))


def snapshot_aggregate(daily: DataFrame, as_of: dt.date, policy: Clean,
                       partition_by: tuple[str, ...] = ()) -> DataFrame:
    """`aggregate_customers` as of one date, from `aggregate_daily` rows (which may be
    grouped by more columns than `partition_by`).

    `days` and `orders` are exact for the used rows (NULL reason), the only ones they
    are read for.
    """
    keys = ("customer_id", *partition_by, "reject_reason")
    flagged = daily.transform(flag_as_of, policy, as_of)
    if "order_keys" not in daily.columns:  # an order is a day: days counted as bits
        return _by_day_bitmaps(flagged, keys, F.col("purchases") > 0, F.col("rows"),
                               F.col("netted_rows"), F.col("netted_amount"))
    purchase_date = F.when(F.col("purchases") > 0, F.col("purchase_date"))
    days = F.count_distinct(purchase_date)
    orders = F.size(F.array_distinct(F.flatten(F.collect_list("order_keys"))))
    return (
        flagged
        .groupBy(*keys)
        .agg(F.sum("rows").alias("rows"),
             F.sum("amount").cast(MONETARY).alias("amount"),
             orders.cast("long").alias("orders"),
             days.cast("long").alias("days"),
             F.min(purchase_date).alias("first_purchase_date"),
             F.max(purchase_date).alias("last_purchase_date"),
             F.sum("netted_rows").alias("netted_rows"),
             F.sum("netted_amount").alias("netted_amount"))
        .transform(_netted_types)
    )


def _netted_types(aggregate: DataFrame) -> DataFrame:
    return aggregate.withColumns({
        "netted_rows": F.col("netted_rows").cast("long"),
        "netted_amount": F.coalesce(F.col("netted_amount"), F.lit(0)).cast(MONETARY)})


def _day_key():
    # A row without an order id is its own day's order.
    return F.concat(F.lit("day:"), F.col("purchase_date").cast("string"))


def customer_metrics(aggregate: DataFrame, as_of: dt.date, options: Metrics,
                     churn_days: int | None = None, partition_by: tuple[str, ...] = ()
                     ) -> DataFrame:
    """One row per customer (and partition) with the used rows' metrics."""
    frequency = {"rows": F.col("rows"), "orders": F.col("orders"), "days": F.col("days"),
                 "rate": F.col("orders")}
    monetary = {"sum": F.col("amount"), "mean_order": F.col("amount") / F.col("orders")}
    # DECIMAL(38, 8): exact sums; a mean is rounded half up to 8 decimals.
    as_of_date = F.lit(as_of)
    rate = (purchase_rate(options.rate_interval_days, churn_days, as_of)
            if options.frequency == "rate" else F.lit(None).cast(MONETARY))
    return (
        aggregate
        # Customers with only netted cancellations bought nothing: not graded, counted.
        .where(F.col("reject_reason").isNull() & (F.col("days") > 0))
        .select(
            "customer_id",
            *partition_by,
            "first_purchase_date",
            "last_purchase_date",
            F.datediff(as_of_date, "last_purchase_date").alias("recency_days"),
            F.datediff(as_of_date, "first_purchase_date").alias("tenure_days"),
            frequency[options.frequency].cast("long").alias("frequency"),
            rate.alias("frequency_rate"),
            monetary[options.monetary].cast(MONETARY).alias("monetary"),
        )
    )


def purchase_rate(interval_days: int, churn_days: int, as_of: dt.date) -> Column:
    """Orders per `interval_days` over the activity period (source 001):
        rate = orders * interval / activity_days, where activity_days is
          interval, when the first purchase is at most one interval before the as-of date;
          min(last purchase + churn period, as-of date) - first purchase, otherwise.
    The second case is always longer than an interval, so no division by zero."""
    as_of_date = F.lit(as_of)
    since_first = F.datediff(as_of_date, "first_purchase_date")
    active_until = F.least(F.date_add("last_purchase_date", churn_days), as_of_date)
    activity_days = F.when(since_first <= interval_days, F.lit(interval_days)).otherwise(
        F.datediff(active_until, "first_purchase_date"))
    numerator = (F.col("orders") * interval_days).cast(T.DecimalType(20, 0))
    return (numerator / activity_days.cast(T.DecimalType(10, 0))).cast(MONETARY)


def customers_without_purchase(aggregate: DataFrame) -> DataFrame:
    """Customers whose used rows are all netted cancellations: nothing bought in the
    period, so nothing to grade; the run counts them."""
    return aggregate.where(F.col("reject_reason").isNull() & (F.col("days") == 0))


def used_rows(flagged: DataFrame) -> DataFrame:
    """Used purchases: transactions, or `aggregate_daily` days, that are no netted
    cancellation (the churn period and order amounts read only purchases)."""
    bought = ~F.col("netted") if "netted" in flagged.columns else F.col("purchases") > 0
    return flagged.where(F.col("reject_reason").isNull() & bought)


def churn_period_days(used: DataFrame, spec: int | ChurnPercentile) -> int:
    """The churn period in whole days: fixed, or the given percentile of the gaps (days)
    between each customer's consecutive purchase days, rounded up. `used`: rows with a
    customer_id and purchase_date."""
    if isinstance(spec, int):
        return spec
    previous = F.lag("purchase_date").over(W.partitionBy("customer_id").orderBy("purchase_date"))
    gaps = (used.select("customer_id", "purchase_date").distinct()
            .select(F.datediff("purchase_date", previous).alias("gap"))
            .where(F.col("gap").isNotNull()))
    level = spec.percentile / 100
    # Exact percentile of whole days: interpolation gives at most a few decimals, and
    # rounding to 6 of them drops the double's noise before rounding up.
    point = (F.ceil(F.round(F.percentile("gap", level), 6)) if spec.exact
             else F.percentile_approx("gap", level, spec.accuracy))
    days = gaps.agg(point.cast("int")).first()[0]
    if days is None:
        raise ValueError("churn period: no customer bought on two different days")
    return max(days, 1)


def order_amounts(used: DataFrame, has_order_id: bool, partition_by: tuple[str, ...] = ()
                  ) -> DataFrame:
    """The amount of each order (cheque): the population of `grading.monetary.of: orders`."""
    order = F.coalesce(F.col("order_id"), _day_key()) if has_order_id else _day_key()
    # A day of `aggregate_daily` may hold netted cancellations: they are no order.
    amount = (F.col("amount") - F.coalesce(F.col("netted_amount"), F.lit(0))
              if "netted_amount" in used.columns else F.col("amount"))
    return (used.groupBy("customer_id", *partition_by, order.alias("order_key"))
            .agg(F.sum(amount).alias("amount")))
