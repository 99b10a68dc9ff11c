"""A synthetic transactions table shaped like H&M's (t_dat, customer_id, article_id, price,
sales_channel_id), generated on Spark.

Every random draw is a hash of (seed, what it is for, the ids it belongs to), so the output
depends only on the arguments, never on partitioning or the number of executors.
Shape, per customer:
- a heavy-tailed number of rows (log-normal: many customers with 1-5 rows, a few with
  hundreds or more), scaled so the table has about `rows` rows;
- an activity window: a start day uniform over the two years and a lifetime drawn from
  an exponential distribution, so customers start and stop at different times;
- visits (days) spread over that window, each a basket of one or more rows, all in one
  sales channel (about 30% channel 1, 70% channel 2);
- articles drawn with a skew towards popular ones from ~105k ids, each with its own
  log-normal price (mean about 0.028, right-skewed, capped at 0.59) and small discounts;
- co-purchases: in a fifth of the visits with two or more rows, the first row is the
  first article of a planted pair and, 70% of the time, the second row its second
  article; one pair for regular customers (`REGULAR_VISITS` visits or more, over as many
  days or more) and another for occasional ones, so that rules differ between segments (`PLANTED_PAIRS`, with
  their article ids in `planted_pair_ids`).
"""
from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

FIRST_DAY = dt.date(2018, 9, 20)
LAST_DAY = dt.date(2020, 9, 22)
DAYS = (LAST_DAY - FIRST_DAY).days + 1
ARTICLES = 105_542
FULL_SCALE_ROWS = 31_788_324
FULL_SCALE_CUSTOMERS = 1_371_980
ROWS_SIGMA = 1.1            # spread of log rows per customer
MEAN_BASKET = 2.3           # rows per visit
MEAN_LIFETIME_DAYS = 300
PRICE_MEAN, PRICE_SIGMA, PRICE_CAP = 0.028, 0.65, 0.59
ONLINE_SHARE = 0.7          # sales_channel_id 2
PLANTED_STOP_DAYS = 365     # the planted churn signal's online customers stop in the last year
# Article numbers (before the id formula) bought together: rarely drawn otherwise.
PLANTED_PAIRS = {"regular": (1_001, 1_002), "occasional": (2_001, 2_002)}
PAIR_SHARE = 0.2            # of the visits with two or more rows
PAIR_FOLLOWS = 0.7          # how often the pair's second article is bought with its first
REGULAR_VISITS = 5


ARTICLE_ID_BASE, ARTICLE_ID_STEP = 1_000_000_000, 37   # H&M-looking 10-digit ids


def article_id(article: Column) -> Column:
    return F.lit(ARTICLE_ID_BASE) + article * ARTICLE_ID_STEP


def planted_pair_ids() -> dict[str, tuple[str, str]]:
    """The planted pairs' article ids, as text (how the basket job reads items)."""
    return {taste: tuple(str(ARTICLE_ID_BASE + a * ARTICLE_ID_STEP) for a in pair)
            for taste, pair in PLANTED_PAIRS.items()}


def _uniform(seed: int, purpose: str, *ids: Column) -> Column:
    """A uniform draw in [0, 1) from a hash: the same inputs always give the same draw."""
    bits = F.xxhash64(F.lit(seed), F.lit(purpose), *ids)
    return (bits.bitwiseAND(F.lit((1 << 53) - 1))).cast("double") / float(1 << 53)


def _normal(seed: int, purpose: str, *ids: Column) -> Column:
    """Box-Muller from two hash draws."""
    u1 = F.greatest(_uniform(seed, purpose + ":1", *ids), F.lit(1e-12))
    u2 = _uniform(seed, purpose + ":2", *ids)
    return F.sqrt(-2 * F.log(u1)) * F.cos(2 * math.pi * u2)


def _planted_end_day(seed: int) -> Column:
    """With the planted churn signal: the last day online customers can buy on, a
    calendar day independent of their start (one visit day if it falls before it)."""
    stop_day = DAYS - 1 - F.floor(_uniform(seed, "stop", F.col("customer")) * PLANTED_STOP_DAYS)
    return F.when(F.col("online_share") > 0.5, F.greatest(F.col("start_day"), stop_day)
                  ).otherwise(F.lit(DAYS - 1))


def generate_transactions(spark: SparkSession, rows: int, customers: int, seed: int = 42,
                          partitions: int | None = None, churn_signal: bool = False
                          ) -> DataFrame:
    """About `rows` H&M-shaped transactions from `customers` customers. With
    `churn_signal`, a planted churn driver: half the customers buy only online, half only
    in store; the store ones stay to the last day, the online ones stop on a day drawn
    uniformly over the last year. That day does not depend on when they started, so at
    any date the online share of money predicts churn and tenure does not stand in for
    it (an exponential lifetime from the first purchase would make long tenure mean
    "store"); recency, frequency and BG/NBD do not see it."""
    people = _customers(spark, rows, customers, seed, partitions, churn_signal)
    return _lines(_visits(people, seed), seed)


def _customers(spark: SparkSession, rows: int, customers: int, seed: int,
               partitions: int | None, churn_signal: bool) -> DataFrame:
    """One row per customer: when they buy, where, how much per visit, and `n_rows`."""
    partitions = partitions or max(2, rows // 2_000_000)
    customer = F.col("customer")
    online_share = (F.when(_uniform(seed, "channel_preference", customer) < 0.5, 1.0)
                    .otherwise(0.0) if churn_signal else F.lit(ONLINE_SHARE))
    people = (
        spark.range(0, customers, numPartitions=partitions).withColumnRenamed("id", "customer")
        .withColumn("weight", F.exp(ROWS_SIGMA * _normal(seed, "rows", customer)))
        .withColumn("start_day", F.floor(_uniform(seed, "start", customer) * DAYS))
        .withColumn("online_share", online_share)
        .withColumn("lifetime", F.floor(-F.log(F.greatest(
            _uniform(seed, "lifetime", customer), F.lit(1e-12))) * MEAN_LIFETIME_DAYS))
        .withColumn("end_day", _planted_end_day(seed) if churn_signal
                    else F.least(F.col("start_day") + F.col("lifetime"), F.lit(DAYS - 1)))
        .withColumn("basket", 1 + F.floor(-F.log(F.greatest(
            _uniform(seed, "basket", customer), F.lit(1e-12))) * (MEAN_BASKET - 1)))
    )
    # One small aggregate scales the weights so the total is close to `rows`.
    total_weight = people.agg(F.sum("weight")).first()[0]
    return people.withColumn(
        "n_rows", F.greatest(F.lit(1), F.round(F.col("weight") * (rows / total_weight)))
        .cast("int"))


def _visits(people: DataFrame, seed: int) -> DataFrame:
    """One row per visit: its day, channel and number of lines."""
    customer, visit = F.col("customer"), F.col("visit")
    return (
        people
        .withColumn("visits", F.ceil(F.col("n_rows") / F.col("basket")).cast("int"))
        .withColumn("visit", F.explode(F.sequence(F.lit(0), F.col("visits") - 1)))
        .withColumn("day", F.col("start_day") + F.floor(
            _uniform(seed, "day", customer, visit) * (F.col("end_day") - F.col("start_day") + 1)))
        .withColumn("channel", F.when(_uniform(seed, "channel", customer, visit)
                                      < F.col("online_share"), F.lit(2)).otherwise(F.lit(1)))
        # The last visit takes what is left, so a customer has exactly n_rows rows.
        .withColumn("lines", F.least(F.col("basket"),
                                     F.col("n_rows") - F.col("visit") * F.col("basket")))
    )


def _lines(visits: DataFrame, seed: int) -> DataFrame:
    """One row per line bought: article (planted pairs included), price, the columns."""
    customer, visit, line = F.col("customer"), F.col("visit"), F.col("line")
    drawn = F.floor(F.pow(_uniform(seed, "article", customer, visit, line), 2) * ARTICLES)
    article = F.when(_paired(seed, visit, line), _pair_article(line)).otherwise(drawn)
    price_mu = math.log(PRICE_MEAN) - PRICE_SIGMA ** 2 / 2
    list_price = F.exp(price_mu + PRICE_SIGMA * _normal(seed, "price", F.col("article")))
    discount = F.when(_uniform(seed, "discount", customer, visit, line) < 0.2,
                      0.5 + 0.5 * _uniform(seed, "discount_size", customer, visit, line)
                      ).otherwise(F.lit(1.0))
    return (
        visits
        .withColumn("line", F.explode(F.sequence(F.lit(0), F.col("lines") - 1)))
        .withColumn("article", article.cast("long"))
        .select(
            F.date_add(F.lit(FIRST_DAY), F.col("day").cast("int")).alias("t_dat"),
            F.sha2(F.concat_ws(":", F.lit(seed), customer.cast("string")), 256)
            .alias("customer_id"),
            article_id(F.col("article")).alias("article_id"),
            F.round(F.least(list_price * discount, F.lit(PRICE_CAP)), 6).alias("price"),
            F.col("channel").alias("sales_channel_id"),
        )
    )


def _paired(seed: int, visit: Column, line: Column) -> Column:
    """The rows of a planted co-purchase: the first, and mostly the second."""
    customer = F.col("customer")
    planted = (F.col("lines") >= 2) & (_uniform(seed, "pair", customer, visit) < PAIR_SHARE)
    follows = _uniform(seed, "pair_follows", customer, visit) < PAIR_FOLLOWS
    return planted & ((line == 0) | ((line == 1) & follows))


def _pair_article(line: Column) -> Column:
    """Regular customers' pair, or occasional ones'. Regular: enough visits over enough
    days to be many orders (a churned customer's visits may all fall on one day)."""
    window = F.col("end_day") - F.col("start_day") + 1
    regular = (F.col("visits") >= REGULAR_VISITS) & (window >= REGULAR_VISITS)
    (a, b), (c, d) = PLANTED_PAIRS["regular"], PLANTED_PAIRS["occasional"]
    return (F.when(regular, F.when(line == 0, a).otherwise(b))
            .otherwise(F.when(line == 0, c).otherwise(d)))


def campaign_responses(members: DataFrame, start_date: dt.date, window_days: int,
                       base_rate: float, lifts: dict[str, float], seed: int = 42) -> DataFrame:
    """H&M-shaped purchases of a campaign's members (rfm_campaign_members rows) in the
    window [start_date, start_date + window_days): every member buys once with
    probability `base_rate`, a test member of segment S with `base_rate + lifts[S]`.
    The planted lift of S is `lifts[S]` (what a measurement should find)."""
    customer = F.col("customer_id")
    extra = F.lit(0.0)
    for segment, lift in sorted(lifts.items()):
        planted = (F.col("segment") == segment) & (F.col("arm") == "test")
        extra = F.when(planted, F.lit(float(lift))).otherwise(extra)
    article = F.floor(F.pow(_uniform(seed, "response_article", customer), 2) * ARTICLES)
    price_mu = math.log(PRICE_MEAN) - PRICE_SIGMA ** 2 / 2
    price = F.exp(price_mu + PRICE_SIGMA * _normal(seed, "response_price", customer))
    day = F.floor(_uniform(seed, "response_day", customer) * window_days).cast("int")
    return (members.where(_uniform(seed, "respond", customer) < F.lit(float(base_rate)) + extra)
            .select(F.date_add(F.lit(start_date), day).alias("t_dat"), customer,
                    article_id(article.cast("long")).alias("article_id"),
                    F.round(F.least(price, F.lit(PRICE_CAP)), 6).alias("price"),
                    F.when(_uniform(seed, "response_channel", customer) < ONLINE_SHARE,
                           F.lit(2)).otherwise(F.lit(1)).alias("sales_channel_id")))
