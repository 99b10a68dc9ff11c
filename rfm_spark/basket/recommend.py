"""Recommendations from rules: each customer gets the consequents of their level value's
rules whose whole antecedent they bought recently, never an item bought in that period,
best first; and, on a holdout, how often what was recommended was bought.

Rules are few (at most `basket.max_rules` per value): they are joined, broadcast, to
the customers' recent items; the driver never holds customers or rules.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window as W
from pyspark.sql import functions as F

SEP = "\u001f"


def recent_items(used: DataFrame, at: dt.date, days: int) -> DataFrame:
    """customer_id, item: distinct items of used purchases in (at - days, at]."""
    recent = (F.col("purchase_date") > F.lit(at - dt.timedelta(days=days))) & (
        F.col("purchase_date") <= F.lit(at))
    return used.where(recent & F.col("item").isNotNull()).select("customer_id", "item").distinct()


def recommendations(recent: DataFrame, customer_values: DataFrame, rules: DataFrame,
                    count: int) -> DataFrame:
    """customer_id, rank, item, score (the best rule's confidence), rule (its
    antecedent), lift: at most `count` items per customer. `customer_values`:
    customer_id, value; `rules`: value, antecedent, consequent, confidence, lift. Ties
    rank by lift, then the item id, so the same input ranks the same way."""
    keyed = rules.select("value", "antecedent", F.col("consequent")[0].alias("item"),
                         "confidence", "lift",
                         F.array_join("antecedent", SEP).alias("rule_key"))
    antecedent_items = keyed.select("value", "rule_key", F.size("antecedent").alias("size"),
                                    F.explode("antecedent").alias("item")).distinct()
    customers = recent.join(customer_values, "customer_id")
    matched = (customers.join(F.broadcast(antecedent_items), ["value", "item"])
               .groupBy("customer_id", "value", "rule_key", "size").count()
               .where(F.col("count") == F.col("size"))
               .select("customer_id", "value", "rule_key"))
    offered = (matched.join(F.broadcast(keyed), ["value", "rule_key"])
               .join(recent, ["customer_id", "item"], "left_anti"))
    best_rule = W.partitionBy("customer_id", "item").orderBy(
        F.desc("confidence"), F.desc("lift"), "rule_key")
    per_customer = W.partitionBy("customer_id").orderBy(
        F.desc("confidence"), F.desc("lift"), "item")
    return (offered.withColumn("_best", F.row_number().over(best_rule)).where("_best = 1")
            .withColumn("rank", F.row_number().over(per_customer))
            .where(F.col("rank") <= count)
            .select("customer_id", F.col("rank").cast("int"), "item",
                    F.col("confidence").alias("score"), F.col("antecedent").alias("rule"),
                    "lift"))


def popular(valued_baskets: DataFrame, recent: DataFrame, customers: DataFrame,
            count: int) -> DataFrame:
    """The baseline: as many items as the rules gave each customer (`customers`:
    customer_id, value, items), the most frequent of their value's baskets (ties by
    item id) not bought recently. `valued_baskets`: value, items. Each value's
    candidates are its top `count` + 50 items, so that customers who bought some of
    them still get their number."""
    top = W.partitionBy("value").orderBy(F.desc("baskets"), "item")
    candidates = (valued_baskets.select("value", F.explode("items").alias("item"))
                  .groupBy("value", "item").agg(F.count(F.lit(1)).alias("baskets"))
                  .withColumn("_place", F.row_number().over(top))
                  .where(F.col("_place") <= count + 50))
    ranked = W.partitionBy("customer_id").orderBy("_place")
    return (customers.join(F.broadcast(candidates), "value")
            .join(recent, ["customer_id", "item"], "left_anti")
            .withColumn("rank", F.row_number().over(ranked))
            .where(F.col("rank") <= F.col("items")).select("customer_id", "item"))


def hits(recommended: DataFrame, bought: DataFrame, customer_values: DataFrame,
         prefix: str = "") -> DataFrame:
    """Per value: customers recommended to, those who bought a recommended item, the
    items recommended and those bought. `bought`: customer_id, item after the cutoff."""
    marked = (recommended.select("customer_id", "item")
              .join(bought.withColumn("_bought", F.lit(True)), ["customer_id", "item"], "left")
              .join(customer_values, "customer_id"))
    per_customer = marked.groupBy("value", "customer_id").agg(
        F.count(F.lit(1)).alias("items"), F.count("_bought").alias("items_hit"))
    return per_customer.groupBy("value").agg(
        F.count(F.lit(1)).alias(f"{prefix}customers"),
        F.count(F.when(F.col("items_hit") > 0, 1)).alias(f"{prefix}customers_hit"),
        F.sum("items").alias(f"{prefix}recommendations"),
        F.sum("items_hit").alias(f"{prefix}recommendations_hit"))
