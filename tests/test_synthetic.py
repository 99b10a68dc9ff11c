"""The generator's shape, checked on aggregates (never on collected rows)."""
import pytest
from pyspark.sql import functions as F

from rfm_spark.synthetic import generate_transactions


@pytest.fixture(scope="module")
def generated(spark):
    return generate_transactions(spark, rows=60_000, customers=2_500, seed=11).cache()


def test_columns_types_and_ranges(generated):
    assert generated.dtypes == [("t_dat", "date"), ("customer_id", "string"),
                                ("article_id", "bigint"), ("price", "double"),
                                ("sales_channel_id", "int")]
    stats = generated.agg(
        F.count(F.lit(1)).alias("rows"), F.count_distinct("customer_id").alias("customers"),
        F.min("t_dat").alias("first"), F.max("t_dat").alias("last"),
        F.min(F.length("customer_id")).alias("min_id"), F.max(F.length("customer_id")).alias("max_id"),
        F.min("article_id").alias("min_article"), F.max("article_id").alias("max_article"),
        F.avg("price").alias("mean_price"), F.max("price").alias("max_price"),
        F.min("price").alias("min_price"), F.expr("percentile(price, 0.5)").alias("median_price"),
        F.avg((F.col("sales_channel_id") == 2).cast("double")).alias("online"),
    ).first()
    assert abs(stats.rows - 60_000) / 60_000 < 0.02
    assert stats.customers == 2_500
    assert str(stats.first) >= "2018-09-20" and str(stats.last) <= "2020-09-22"
    assert stats.min_id == stats.max_id == 64
    assert 1_000_000_000 <= stats.min_article and stats.max_article < 10_000_000_000
    assert 0.022 < stats.mean_price < 0.034 and stats.median_price < stats.mean_price
    assert 0 < stats.min_price and stats.max_price <= 0.59
    assert 0.65 < stats.online < 0.75


def test_heavy_tailed_customers_with_baskets_and_staggered_activity(generated):
    per_customer = generated.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("rows"), F.count_distinct("t_dat").alias("days"),
        F.min("t_dat").alias("first"), F.max("t_dat").alias("last"))
    shape = per_customer.agg(
        F.avg((F.col("rows") <= 5).cast("double")).alias("small"),
        F.max("rows").alias("largest"),
        F.sum("rows").alias("rows"), F.sum("days").alias("days"),
        F.count_distinct("first").alias("first_days"),
        F.count_distinct("last").alias("last_days"),
    ).first()
    assert shape.small > 0.15 and shape.largest > 200     # many small, a few very large
    assert shape.rows / shape.days > 1.5                   # baskets: several rows a day
    assert shape.first_days > 400 and shape.last_days > 400


def test_deterministic_for_a_seed_whatever_the_partitioning(spark):
    def fingerprint(frame):
        row_hash = F.xxhash64("t_dat", "customer_id", "article_id", "price", "sales_channel_id")
        return frame.agg(F.bit_xor(row_hash), F.count(F.lit(1))).first()
    first = fingerprint(generate_transactions(spark, 5_000, 300, seed=3, partitions=2))
    again = fingerprint(generate_transactions(spark, 5_000, 300, seed=3, partitions=5))
    other = fingerprint(generate_transactions(spark, 5_000, 300, seed=4, partitions=2))
    assert first == again and first != other
