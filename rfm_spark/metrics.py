"""Metrics stage: transactions to one row per customer.

`aggregate_customers` makes the only pass over the transactions: it aggregates per
customer and reject reason, so the same (small) result gives both the per-customer
metrics (reason NULL) and the reject counts. An order is an `order_id` when one is
mapped, otherwise a customer's purchases on one day.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rfm_spark.config import Metrics

MONETARY = T.DecimalType(38, 8)

def aggregate_customers(flagged: DataFrame, has_order_id: bool) -> DataFrame:
    """Per (customer_id, reject_reason): rows, amount, orders, days, first and last date.

    One aggregation, so one shuffle: distinct days and orders are counted as the size of
    the set of them, which Spark merges map-side, instead of a distinct aggregate that
    would shuffle every customer-day a second time.
    """
    days = F.size(F.collect_set("purchase_date"))
    if has_order_id:
        # A row without an order id is its own day's order.
        day = F.concat(F.lit("day:"), F.col("purchase_date").cast("string"))
        orders = F.size(F.collect_set(F.coalesce(F.col("order_id"), day)))
    else:
        orders = days
    return (
        flagged
        .groupBy("customer_id", "reject_reason")
        .agg(F.count(F.lit(1)).alias("rows"),
             F.sum("amount").alias("amount"),
             orders.cast("long").alias("orders"),
             days.cast("long").alias("days"),
             F.min("purchase_date").alias("first_purchase_date"),
             F.max("purchase_date").alias("last_purchase_date"))
    )


def reject_counts(aggregate: DataFrame) -> DataFrame:
    """Rows and amount per reject reason (NULL reason = rows used)."""
    return (aggregate.groupBy("reject_reason")
            .agg(F.sum("rows").alias("rows"), F.sum("amount").alias("amount")))


def customer_metrics(aggregate: DataFrame, as_of: dt.date, options: Metrics) -> DataFrame:
    """One row per customer with the used rows' metrics."""
    frequency = {"rows": F.col("rows"), "orders": F.col("orders"), "days": F.col("days")}
    monetary = {"sum": F.col("amount"), "mean_order": F.col("amount") / F.col("orders")}
    # DECIMAL(38, 8): exact sums; a mean is rounded half up to 8 decimals.
    as_of_date = F.lit(as_of)
    return (
        aggregate
        .where(F.col("reject_reason").isNull())
        .select(
            "customer_id",
            "first_purchase_date",
            "last_purchase_date",
            F.datediff(as_of_date, "last_purchase_date").alias("recency_days"),
            F.datediff(as_of_date, "first_purchase_date").alias("tenure_days"),
            frequency[options.frequency].cast("long").alias("frequency"),
            monetary[options.monetary].cast(MONETARY).alias("monetary"),
        )
    )
