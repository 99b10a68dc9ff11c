"""Association rules per level value (source 000: each segment's related products), mined
with Spark MLlib's FP-Growth.

A basket is an order (`order_id`, or a customer's day when the source has none) and
holds the distinct items of its used purchases. Every level value's baskets are mined
with that value's own threshold: FP-Growth runs once per distinct threshold, on items
prefixed with their value's index, so that itemsets never mix values and one fit mines
every value sharing a threshold (with `min_baskets`: all of them). Rule counts are
exact: they come from the fitted itemsets' counts, and the population's counts of the
same itemsets from one containment join over every basket.
"""
from __future__ import annotations

import dataclasses
import math

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame, Window as W
from pyspark.sql import functions as F

from rfm_spark.config import Basket
from rfm_spark.session import Caches

BASKET_KEY = ["customer_id", "basket"]
RULE_COUNTS = ("value string, antecedent array<string>, consequent array<string>, "
               "antecedent_baskets bigint, consequent_baskets bigint, baskets bigint")
_SEP = "\u001f"   # between a value's index and an item id: no item id holds it


def baskets(used: DataFrame, max_items: int) -> DataFrame:
    """customer_id, basket, items (distinct item ids, sorted) and `oversized`: one row
    per basket of `used` purchase rows with an item (`basket`: the order id, else the
    purchase date); baskets with more than `max_items` items are flagged to be left
    out and counted."""
    basket = F.coalesce(F.col("order_id"), F.col("purchase_date").cast("string"))
    return (used.where(F.col("item").isNotNull())
            .groupBy("customer_id", basket.alias("basket"))
            .agg(F.array_sort(F.collect_set("item")).alias("items"))
            .withColumn("oversized", F.size("items") > max_items))


@dataclasses.dataclass(frozen=True)
class LevelValues:
    """The level values with their baskets (a few rows: one per value)."""
    baskets: dict[str, int]

    def index(self) -> dict[str, int]:
        return {value: number for number, value in enumerate(sorted(self.baskets))}

    def threshold(self, value: str, spec: Basket) -> int:
        """The baskets an itemset needs in `value`: min_baskets, or min_support's share
        rounded up (at least 1)."""
        if spec.min_support is None:
            return spec.min_baskets
        return max(1, math.ceil(spec.min_support * self.baskets[value] - 1e-9))


def level_values(valued: DataFrame) -> LevelValues:
    """Baskets per level value of `valued` baskets (one row per value)."""
    rows = valued.groupBy("value").count().collect()  # one row per level value
    return LevelValues({row.value: row["count"] for row in rows})


def mine(valued: DataFrame, values: LevelValues, spec: Basket, cache: Caches) -> DataFrame:
    """Every rule of every level value (value, antecedent, consequent, the three counts,
    level_baskets), FP-Growth's candidates filtered by `min_confidence`. `valued`:
    baskets with their level `value`."""
    by_threshold: dict[int, list[str]] = {}
    for value in sorted(values.baskets):
        threshold = values.threshold(value, spec)
        if values.baskets[value] >= threshold:  # fewer baskets: no itemset can be frequent
            by_threshold.setdefault(threshold, []).append(value)
    rules = valued.sparkSession.createDataFrame([], RULE_COUNTS)
    for threshold, group in sorted(by_threshold.items()):
        rules = rules.unionByName(_mine_values(valued, values, group, threshold,
                                               spec.min_confidence, cache))
    counts = valued.sparkSession.createDataFrame(
        sorted(values.baskets.items()), "value string, level_baskets bigint")
    return rules.join(F.broadcast(counts), "value")  # one row per value


def _mine_values(valued: DataFrame, values: LevelValues, group: list[str], threshold: int,
                 min_confidence: float, cache: Caches) -> DataFrame:
    """One FP-Growth fit over the values of `group`, which share `threshold`."""
    index = values.index()
    number = F.create_map(*[F.lit(x) for value in group for x in (value, str(index[value]))])
    prefixed = valued.where(F.col("value").isin(group)).select(F.transform(
        "items", lambda item: F.concat(number[F.col("value")], F.lit(_SEP), item)).alias("items"))
    # FP-Growth keeps the itemsets in at least ceil(minSupport x baskets) baskets.
    in_fit = sum(values.baskets[value] for value in group)
    model = FPGrowth(itemsCol="items", minSupport=(threshold - 0.5) / in_fit,
                     minConfidence=min_confidence).fit(prefixed)
    itemsets = cache(model.freqItemsets.select(F.array_sort("items").alias("items"),
                                               F.col("freq").alias("count")))
    rules = model.associationRules.select(F.array_sort("antecedent").alias("antecedent"),
                                          F.col("consequent"))
    whole = F.array_sort(F.concat("antecedent", "consequent"))
    counted = (rules
               .join(itemsets.withColumnRenamed("items", "antecedent")
                     .withColumnRenamed("count", "antecedent_baskets"), "antecedent")
               .join(itemsets.withColumnRenamed("items", "consequent")
                     .withColumnRenamed("count", "consequent_baskets"), "consequent")
               .join(itemsets.withColumnRenamed("count", "baskets"),
                     whole == F.col("items")).drop("items"))
    named = F.create_map(*[F.lit(x) for value in group for x in (str(index[value]), value)])
    first = F.col("consequent")[0]
    return counted.select(
        named[F.substring_index(first, _SEP, 1)].alias("value"),
        F.transform("antecedent", _unprefixed).alias("antecedent"),
        F.transform("consequent", _unprefixed).alias("consequent"),
        "antecedent_baskets", "consequent_baskets", "baskets")


def _unprefixed(item):
    return F.substring(item, F.instr(item, _SEP) + 1, 1 << 30)


def with_measures(rules: DataFrame) -> DataFrame:
    """support, confidence and lift from the counts."""
    level = F.col("level_baskets").cast("double")
    return rules.select(
        "*", (F.col("baskets") / level).alias("support"),
        (F.col("baskets") / F.col("antecedent_baskets")).alias("confidence"),
        (F.col("baskets") * level / (F.col("antecedent_baskets")
                                     * F.col("consequent_baskets"))).alias("lift"))


def strongest(rules: DataFrame, max_rules: int) -> DataFrame:
    """Each value's `max_rules` rules with the highest lift (then confidence, baskets,
    and the items, so that ties keep the same rules on every run)."""
    order = W.partitionBy("value").orderBy(
        F.desc("lift"), F.desc("confidence"), F.desc("baskets"),
        F.array_join("antecedent", _SEP), F.array_join("consequent", _SEP))
    return (rules.withColumn("_rank", F.row_number().over(order))
            .where(F.col("_rank") <= max_rules).drop("_rank"))


def population_counts(rules: DataFrame, every_basket: DataFrame) -> DataFrame:
    """`rules` with population_lift: the same rule's lift over `every_basket` (the
    baskets of every level value). The rules' itemsets (at most three per rule, the
    rules at most `max_rules` per value) are broadcast; each basket item meets the
    itemsets that hold it, and an itemset is in a basket when all its items are."""
    wanted = (rules.select(F.explode(F.array("antecedent", "consequent", F.array_sort(
        F.concat("antecedent", "consequent")))).alias("itemset")).distinct())
    members = wanted.select("itemset", F.size("itemset").alias("size"),
                            F.explode("itemset").alias("item"))
    items = every_basket.select(*BASKET_KEY, F.explode("items").alias("item"))
    holding = (items.join(F.broadcast(members), "item")
               .groupBy(*BASKET_KEY, "itemset", "size").count()
               .where(F.col("count") == F.col("size"))
               .groupBy("itemset").agg(F.count(F.lit(1)).alias("population")))
    population = every_basket.agg(F.count(F.lit(1)).alias("population_baskets"))
    whole = F.array_sort(F.concat("antecedent", "consequent"))

    def count_of(alias: str) -> DataFrame:
        return holding.select(F.col("itemset").alias(f"_{alias}"),
                              F.col("population").alias(alias))
    joined = (rules
              .join(count_of("pa"), F.col("antecedent") == F.col("_pa"))
              .join(count_of("pc"), F.col("consequent") == F.col("_pc"))
              .join(count_of("pb"), whole == F.col("_pb"))
              .crossJoin(population))
    lift = (F.col("pb") * F.col("population_baskets").cast("double")
            / (F.col("pa") * F.col("pc")))
    return joined.select(*rules.columns, lift.alias("population_lift"))
