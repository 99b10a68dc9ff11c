"""Each stage's floor in the product's own Spark: what the same work costs written as bare
Spark, in a fresh process with the job's session settings.

    python bench/floor.py INPUT WORK_DIR [parquet|csv]

- read + groupBy: one `groupBy(customer_id)` with the outputs the product's aggregate
  has (first and last date, distinct days, orders, rows, money as DECIMAL), written as a
  Spark user would (`count_distinct`, which Spark expands into one row per distinct
  aggregate and shuffles);
- read + groupBy, no distinct: the same without the distinct counts (rows, dates and
  money only): the scan and aggregation no exact distinct count can beat;
- one sort: the per-customer table ranked by one metric (a quantile cut needs no more);
- one Delta append: the per-customer table appended to a new Delta table.

On CSV only the scan floor is measured (read + groupBy, no distinct), reading every
column as text and typing the three it aggregates, as the product does: the other floors
start from the same per-customer table whatever the input's format.

Logged as stages (`<name>: done in X s`), which `bench/run.py` records beside the
product's.
"""
from __future__ import annotations

import sys

from pyspark.sql import functions as F

from rfm_spark.logs import configure_logging, stage
from rfm_spark.session import get_spark


def main(source: str, work: str, fmt: str = "parquet") -> None:
    configure_logging()
    spark = get_spark("rfm_spark bench floor")
    if fmt == "csv":
        with stage("floor: read + groupBy, no distinct"):
            text = spark.read.options(header=True, inferSchema=False).csv(source)
            (text.groupBy("customer_id").agg(
                F.min(F.col("t_dat").cast("date")).alias("first"),
                F.max(F.col("t_dat").cast("date")).alias("last"),
                F.count(F.lit(1)).alias("rows"),
                F.sum(F.col("price").cast("decimal(18,8)")).alias("money"))
             .write.format("noop").mode("overwrite").save())
        return
    transactions = spark.read.parquet(source)
    with stage("floor: read + groupBy"):
        customers = (transactions.groupBy("customer_id").agg(
            F.min("t_dat").alias("first"), F.max("t_dat").alias("last"),
            F.count_distinct("t_dat").alias("days"),
            F.count_distinct("t_dat", "sales_channel_id").alias("orders"),
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.col("price").cast("decimal(18,8)")).alias("money")).cache())
        customers.count()
    with stage("floor: read + groupBy, no distinct"):
        (transactions.groupBy("customer_id").agg(
            F.min("t_dat").alias("first"), F.max("t_dat").alias("last"),
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.col("price").cast("decimal(18,8)")).alias("money"))
         .write.format("noop").mode("overwrite").save())
    with stage("floor: one sort"):
        customers.sort("money").write.format("noop").mode("overwrite").save()
    with stage("floor: one Delta append"):
        customers.write.format("delta").mode("overwrite").save(f"{work}/floor_customers")


if __name__ == "__main__":
    main(*sys.argv[1:4])
