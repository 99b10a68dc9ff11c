"""Cross-sell rules, step by step: the run and its customers' level values -> the run's
used purchases with their items, read once -> baskets -> FP-Growth per level value ->
counts, measures and tests -> the strongest rules, with their population lift ->
recommendations -> both tables written. With a holdout, the same up to a cutoff, and
the recommendations checked on the days after it (`evaluate_holdout`).

Driver-side work is on small aggregates only: baskets per level value, the distinct
counts of the mined rules (Fisher's test), and the printed summaries.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import lakehouse as lh, names
from rfm_spark.basket import mining, recommend, stats
from rfm_spark.clean import flag_as_of
from rfm_spark.config import Basket, Config, load_config
from rfm_spark.errors import ConfigError, InputError
from rfm_spark.lakehouse.basket import replace_evaluation, replace_rules
from rfm_spark.logs import stage
from rfm_spark.metrics import used_rows
from rfm_spark.pipeline import history, reading
from rfm_spark.session import Caches
from rfm_spark.steps import conform
from rfm_spark.tables import BASKET_EVALUATION, BASKET_RULES, RECOMMENDATIONS

log = logging.getLogger(__name__)
LEVEL_COLUMN = {"segment": "segment", "group": "group"}


@dataclasses.dataclass(frozen=True)
class BasketResult:
    rules: DataFrame              # the run's rfm_basket_rules rows of the level, as stored
    recommendations: DataFrame    # its rfm_recommendations rows, as stored
    counts: dict[str, int]        # baskets used and left out, rules mined and kept


@dataclasses.dataclass(frozen=True)
class Mined:
    rules: DataFrame              # the kept rules, with every measure (not yet conformed)
    recommendations: DataFrame    # customer_id, rank, item, score, rule, lift
    baskets: DataFrame            # the baskets used, with their value
    recent: DataFrame             # customer_id, item bought in the recent days
    counts: dict[str, int]


def check_items(config: Config) -> None:
    """ConfigError unless the item column is mapped (before Spark starts)."""
    if config.input.columns.item is None:
        raise ConfigError("basket rules need items: map input.columns.item (H&M: "
                          "article_id, Online Retail: StockCode; `source:hm` and "
                          "`source:online_retail` do)")


def mine_basket_rules(spark: SparkSession, lakehouse: lh.Lakehouse, run_id: str, config: Config,
                      source: str | DataFrame | None = None) -> BasketResult:
    """Mines the rules of run `run_id`'s baskets per `basket.level` value and recommends
    from them; replaces the run's rows of rfm_basket_rules (of the level) and
    rfm_recommendations. Nothing is written when a check fails."""
    check_items(config)
    run = lh.succeeded_run(spark, lakehouse, names.check_run_id(run_id))
    _check_reads_as_run(spark, lakehouse, run, config)
    spec = config.basket
    values = _customer_values(spark, lakehouse, run, spec)
    with reading(spark, config, source, items=True) as read, Caches(spark) as cache:
        used = cache(used_rows(flag_as_of(read.flagged, config.clean, run.as_of_date)))
        mined = _mine(used, values, run.as_of_date, spec, cache)
        rules = _rules_rows(mined.rules, run, spec)
        recommended = _recommendation_rows(mined.recommendations, run)
        with stage(f"write basket rules of run {run.run_id}") as counts:
            replace_rules(spark, lakehouse, rules, run.run_id, spec.level, recommended)
            counts.update(mined.counts)
    stored = lh.read_table(spark, lakehouse, BASKET_RULES.name).where(
        (F.col("run_id") == run.run_id) & (F.col("level") == spec.level))
    stored_recommendations = lh.read_table(spark, lakehouse, RECOMMENDATIONS.name).where(
        F.col("run_id") == run.run_id)
    return BasketResult(stored, stored_recommendations, mined.counts)


def evaluate_holdout(spark: SparkSession, lakehouse: lh.Lakehouse, run_id: str, config: Config,
                     holdout_days: int, source: str | DataFrame | None = None) -> DataFrame:
    """Rules mined and recommendations made at the run's as-of date minus
    `holdout_days` (segments graded then, by the run's rules), checked against what
    customers bought after; replaces the run's rfm_basket_evaluation rows of the level
    and holdout. Returns them as stored."""
    check_items(config)
    if holdout_days < 1:
        raise ConfigError("--holdout-days must be at least 1")
    run = lh.succeeded_run(spark, lakehouse, names.check_run_id(run_id))
    _check_reads_as_run(spark, lakehouse, run, config)
    lh.refuse_other_scheme(run, config.scheme_sha256, "the holdout grades again")
    spec = config.basket
    cutoff = run.as_of_date - dt.timedelta(days=holdout_days)
    _customer_values(spark, lakehouse, run, spec)  # the run's checks
    with history(spark, config, source, items=True) as past, Caches(spark) as cache:
        values = _values_of(past.segment(cutoff).customers, spec)
        flagged = cache(past.flagged)
        # Mined as a run at the cutoff would use its rows (its lookback window too);
        # checked on the rows the run used after the cutoff.
        mined = _mine(used_rows(flag_as_of(flagged, config.clean, cutoff)), values, cutoff,
                      spec, cache)
        after = (used_rows(flag_as_of(flagged, config.clean, run.as_of_date))
                 .where((F.col("purchase_date") > F.lit(cutoff)) & F.col("item").isNotNull())
                 .select("customer_id", "item").distinct())
        rows = cache(_evaluation_rows(mined, values, after, spec, run, holdout_days, cutoff))
        _log_hit_rates(rows.collect(), cutoff)  # one row per level value
        with stage(f"write basket evaluation of run {run.run_id}") as counts:
            replace_evaluation(spark, lakehouse, rows, run.run_id, spec.level, holdout_days)
            counts.update(mined.counts)
    return lh.read_table(spark, lakehouse, BASKET_EVALUATION.name).where(
        (F.col("run_id") == run.run_id) & (F.col("level") == spec.level)
        & (F.col("holdout_days") == holdout_days))


def _check_reads_as_run(spark: SparkSession, lakehouse: lh.Lakehouse, run: lh.RunInfo,
                        config: Config) -> None:
    """ConfigError unless the config reads and cleans the input as the run did: the
    baskets must come from the purchases the run's segments were graded on."""
    document = yaml.safe_load(lh.run_config(spark, lakehouse, run))
    ran = load_config([], documents={f"run {run.run_id}'s config": document}).reading()
    ours = config.reading()
    differ = sorted(key for key in ran.keys() | ours.keys() if ran.get(key) != ours.get(key))
    if differ:
        raise ConfigError(f"run {run.run_id} read or cleaned its input otherwise than this "
                          f"config ({', '.join(differ[:5])}{', ...' if len(differ) > 5 else ''}"
                          "): give the config the run was made with")


def _log_hit_rates(rows: list, cutoff: dt.date) -> None:
    for row in rows:
        log.info("holdout from %s, %s: %s of %s customers bought a recommended item "
                 "(hit rate %.4f; popular items %.4f)", cutoff, row.value,
                 f"{row.customers_hit:,}", f"{row.customers:,}", row.hit_rate,
                 row.popular_hit_rate)


def _customer_values(spark: SparkSession, lakehouse: lh.Lakehouse, run: lh.RunInfo,
                     spec: Basket) -> DataFrame:
    customers = lh.run_rows(spark, lakehouse, "rfm_customers", run)
    lh.refuse_partitioned(customers, run, "rules are mined per customer's one segment")
    return _values_of(customers, spec)


def _values_of(customers: DataFrame, spec: Basket) -> DataFrame:
    """customer_id, value: each customer's segment, group, or `all`."""
    value = F.lit("all") if spec.level == "all" else F.col(f"`{LEVEL_COLUMN[spec.level]}`")
    return customers.select("customer_id", value.cast("string").alias("value"))


def _mine(used: DataFrame, customer_values: DataFrame, at: dt.date, spec: Basket,
          cache: Caches) -> Mined:
    """Baskets of `used` purchases up to `at`, their rules per value, and the
    recommendations at `at`."""
    with stage("baskets") as counts:
        every = cache(mining.baskets(used.where(F.col("purchase_date") <= F.lit(at)),
                                     spec.max_items))
        kept = every.where(~F.col("oversized")).drop("oversized")
        valued = cache(kept.join(customer_values, "customer_id"))
        values = mining.level_values(valued)
        counts.update(baskets=sum(values.baskets.values()), values=len(values.baskets),
                      oversized=every.where("oversized").count())
    if not values.baskets:
        raise InputError(f"no basket with an item up to {at}: nothing to mine")
    with stage(f"FP-Growth per {spec.level}") as found:
        mined = mining.with_measures(mining.mine(valued, values, spec, cache))
        tested = stats.with_adjusted(stats.with_p_values(valued.sparkSession, mined,
                                                         spec.max_combinations))
        rules = cache(mining.strongest(tested, spec.max_rules))
        found.update(mined=mined.count(), kept=rules.count())
    with stage("population lift + recommendations") as made:
        rules = cache(mining.population_counts(rules, kept))
        recent = cache(recommend.recent_items(used, at, spec.recent_days))
        recommendations = cache(recommend.recommendations(recent, customer_values, rules,
                                                          spec.recommend))
        made["recommendations"] = recommendations.count()
    return Mined(rules, recommendations, valued, recent,
                 {**counts, "rules_mined": found["mined"], "rules_kept": found["kept"],
                  "recommendations": made["recommendations"]})


def _rules_rows(rules: DataFrame, run: lh.RunInfo, spec: Basket) -> DataFrame:
    return conform(rules.select("*", F.lit(run.run_id).alias("run_id"),
                                F.lit(run.as_of_date).alias("as_of_date"),
                                F.lit(spec.level).alias("level")),
                   BASKET_RULES.layout())


def _recommendation_rows(recommendations: DataFrame, run: lh.RunInfo) -> DataFrame:
    return conform(recommendations.drop("lift").withColumn("run_id", F.lit(run.run_id)),
                   RECOMMENDATIONS.layout())


def _evaluation_rows(mined: Mined, customer_values: DataFrame, after: DataFrame,
                     spec: Basket, run: lh.RunInfo, holdout_days: int, cutoff: dt.date
                     ) -> DataFrame:
    """Per value: the rules' hits, and the popular items' hit rate for the same customers
    with as many items each."""
    recommended = mined.recommendations
    per_customer = (recommended.groupBy("customer_id").agg(F.count(F.lit(1)).alias("items"))
                    .join(customer_values, "customer_id"))
    baseline = recommend.popular(mined.baskets, mined.recent, per_customer, spec.recommend)
    found = recommend.hits(recommended, after, customer_values)
    popular = recommend.hits(baseline, after, customer_values, prefix="popular_")
    rate = F.col("customers_hit") / F.col("customers")
    rows = (found.join(popular.select("value", "popular_customers", "popular_customers_hit"),
                       "value", "left")
            .select("*", F.lit(run.run_id).alias("run_id"),
                    F.lit(run.as_of_date).alias("as_of_date"),
                    F.lit(spec.level).alias("level"),
                    F.lit(holdout_days).alias("holdout_days"),
                    F.lit(cutoff).alias("cutoff_date"), rate.alias("hit_rate"),
                    (F.col("recommendations_hit") / F.col("recommendations")).alias("precision"),
                    (F.coalesce("popular_customers_hit", F.lit(0)) / F.col("customers"))
                    .alias("popular_hit_rate")))
    return conform(rows.drop("popular_customers", "popular_customers_hit"),
                   BASKET_EVALUATION.layout())
