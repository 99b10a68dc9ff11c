"""Training sets without leakage (source 004): at each observation date t, a customer's
features come from used purchases on or before t only, and the label from (t, t + horizon].

Everything starts from the customer-day table (`customer_days`: one row per customer and
purchase day, with the day's orders and money), which the backfill's per-customer-day
aggregate gives directly.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from pyspark.sql import DataFrame, SparkSession, Window as W
from pyspark.sql import functions as F

from rfm_spark.metrics import MONETARY, used_rows
from rfm_spark.schedule import add_months

WINDOWS_DAYS = (30, 90, 180, 365)


@dataclasses.dataclass(frozen=True)
class LabelSpec:
    """`drop` (source 004's "activity decreased"): fewer orders in (t, t + horizon] than
    drop_ratio x the orders in (t - horizon, t], among customers with at least
    min_orders orders there; `inactive`: no purchase in (t, t + horizon], among
    customers who bought on or before t."""
    kind: str = "drop"
    horizon_days: int = 90
    drop_ratio: float = 1.0
    min_orders: int = 1


def customer_days(daily: DataFrame) -> DataFrame:
    """customer_id, purchase_date, orders, amount: used purchase days of
    `aggregate_daily` rows (orders: the day's order ids, else the day is one order)."""
    orders = (F.size("order_keys") if "order_keys" in daily.columns else F.lit(1))
    return (used_rows(daily)
            .groupBy("customer_id", "purchase_date")
            .agg(F.sum(orders).cast("long").alias("orders"),
                 F.sum("amount").cast(MONETARY).alias("amount")))


def observation_dates(as_of: dt.date, horizon_days: int, count: int) -> list[dt.date]:
    """`count` month-spaced dates, oldest first, the latest at as-of minus the horizon
    (month ends stay month ends)."""
    latest = as_of - dt.timedelta(days=horizon_days)
    return [add_months(latest, -step) for step in reversed(range(count))]


def dates_frame(spark: SparkSession, dates: list[dt.date]) -> DataFrame:
    return spark.createDataFrame([(d,) for d in dates], "observed_at date")


def labels(days: DataFrame, observed: DataFrame, spec: LabelSpec) -> DataFrame:
    """customer_id, observed_at, churned (1 or 0) for the customers eligible at each
    observation date (`observed`: one column `observed_at`, a few rows)."""
    t = F.col("observed_at")
    before = (F.col("purchase_date") > F.date_sub(t, spec.horizon_days)) & (
        F.col("purchase_date") <= t)
    after = (F.col("purchase_date") > t) & (F.col("purchase_date") <= F.date_add(
        t, spec.horizon_days))
    counted = (days.crossJoin(F.broadcast(observed))
               .groupBy("customer_id", "observed_at")
               .agg(F.sum(F.when(before, F.col("orders")).otherwise(0)).alias("orders_before"),
                    F.sum(F.when(after, F.col("orders")).otherwise(0)).alias("orders_after"),
                    F.min("purchase_date").alias("first_purchase")))
    if spec.kind == "drop":
        eligible = F.col("orders_before") >= spec.min_orders
        churned = F.col("orders_after") < F.lit(spec.drop_ratio) * F.col("orders_before")
    else:
        eligible = F.col("first_purchase") <= t
        churned = F.col("orders_after") == 0
    return counted.where(eligible).select("customer_id", "observed_at",
                                          churned.cast("int").alias("churned"))


def features(days: DataFrame, observed: DataFrame) -> DataFrame:
    """One row per customer with a purchase on or before each observation date: the
    feature families of the README, from those purchases only."""
    t = F.col("observed_at")
    history = days.crossJoin(F.broadcast(observed)).where(F.col("purchase_date") <= t)
    by_customer = W.partitionBy("customer_id", "observed_at").orderBy("purchase_date")
    gap = F.datediff("purchase_date", F.lag("purchase_date").over(by_customer))
    windowed = []
    for days_back in WINDOWS_DAYS:
        recent = F.col("purchase_date") > F.date_sub(t, days_back)
        windowed += [F.sum(F.when(recent, F.col("orders")).otherwise(0)).alias(
                         f"orders_{days_back}d"),
                     F.sum(F.when(recent, F.col("amount")).otherwise(0)).cast("double").alias(
                         f"money_{days_back}d")]
    aggregated = (history.withColumn("gap_days", gap)
                  .groupBy("customer_id", "observed_at")
                  .agg(F.max("purchase_date").alias("last_purchase"),
                       F.min("purchase_date").alias("first_purchase"),
                       F.count(F.lit(1)).alias("purchase_days"),
                       F.sum("orders").alias("orders"),
                       F.sum("amount").cast("double").alias("money"),
                       F.avg("gap_days").alias("gap_mean_days"),
                       F.stddev_pop("gap_days").alias("gap_std_days"),
                       *windowed))
    ratios = {f"orders_trend_{short}_{long}": _ratio(f"orders_{short}d", f"orders_{long}d")
              for short, long in zip(WINDOWS_DAYS, WINDOWS_DAYS[1:])}
    return aggregated.select(
        "customer_id", "observed_at",
        F.datediff(t, "last_purchase").alias("recency_days"),
        F.datediff(t, "first_purchase").alias("tenure_days"),
        "purchase_days", "orders", "money",
        (F.col("money") / F.col("orders")).alias("average_order_value"),
        *[f"{kind}_{d}d" for d in WINDOWS_DAYS for kind in ("orders", "money")],
        *[ratio.alias(name) for name, ratio in ratios.items()],
        F.coalesce("gap_mean_days", F.lit(-1.0)).alias("gap_mean_days"),
        F.coalesce("gap_std_days", F.lit(-1.0)).alias("gap_std_days"))


def _ratio(part: str, whole: str):
    """Share of a longer window's orders in the shorter one (trend); 0 when none."""
    return F.when(F.col(whole) > 0, F.col(part) / F.col(whole)).otherwise(F.lit(0.0))


def mix_features(daily: DataFrame, observed: DataFrame, channels: list[str]) -> DataFrame:
    """Where mapped: the number of stores and the main store's share of purchase days,
    and each of `channels`' share of the money, from used purchases on or before each
    observation date (`daily`: `aggregate_daily` rows with the store and channel); None
    when neither is mapped."""
    t = F.col("observed_at")
    history = used_rows(daily).crossJoin(F.broadcast(observed)).where(
        F.col("purchase_date") <= t)
    keys = ["customer_id", "observed_at"]
    parts = []
    if "store" in daily.columns:
        per_store = (history.groupBy(*keys, "store")
                     .agg(F.count_distinct("purchase_date").alias("store_days")))
        parts.append(per_store.groupBy(*keys).agg(
            F.count(F.lit(1)).alias("stores"),
            (F.max("store_days") / F.sum("store_days")).alias("main_store_share")))
    if channels:
        money = F.col("amount").cast("double")
        shares = [(F.sum(F.when(F.col("channel").cast("string") == name, money).otherwise(0.0))
                   / F.sum(money)).alias(channel_feature(name)) for name in channels]
        parts.append(history.groupBy(*keys).agg(*shares).na.fill(0.0))
    if not parts:
        return None
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, keys)
    return joined


def channel_feature(channel: str) -> str:
    return "channel_share_" + "".join(c if c.isalnum() else "_" for c in str(channel))


def top_channels(daily: DataFrame, limit: int = 5) -> list[str]:
    """The channels whose money shares are features: the `limit` with the most used
    purchase days, less the last when they are all (its share is the rest)."""
    if "channel" not in daily.columns:
        return []
    rows = (used_rows(daily).where(F.col("channel").isNotNull()).groupBy("channel").count()
            .orderBy(F.desc("count"), "channel").limit(limit + 1).collect())  # limit + 1 rows
    found = [str(row.channel) for row in rows]
    return found[:limit] if len(found) > limit else found[:-1]


def recent_money(days: DataFrame, at: dt.date, window_days: int) -> DataFrame:
    """customer_id, money_recent and orders_recent: used purchases in (at - window, at]."""
    recent = (F.col("purchase_date") > F.lit(at - dt.timedelta(days=window_days))) & (
        F.col("purchase_date") <= F.lit(at))
    return (days.where(recent).groupBy("customer_id")
            .agg(F.sum("amount").cast("double").alias("money_recent"),
                 F.sum("orders").alias("orders_recent")))
