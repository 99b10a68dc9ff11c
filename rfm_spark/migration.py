"""Migration stage: how customers moved between two runs, at every segment level.

One row per (level, from_value, to_value) with the customers who made that move and
their monetary value in each run. A customer only in the later run is `new` (from_value
NULL), one only in the earlier run is `gone` (to_value NULL), so for each level the rows
with a given from_value add up to that value's size in the earlier run, and the rows with
a given to_value to its size in the later run.
"""
from __future__ import annotations

import datetime as dt
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rfm_spark.metrics import MONETARY
from rfm_spark.tables import PARTITION_ROLES

# The segment levels of a run, finest first; every level is a column of rfm_customers.
LEVELS = ("segment_code", "segment", "group")


def transitions(from_customers: DataFrame, to_customers: DataFrame,
                from_run: tuple[str, dt.date], to_run: tuple[str, dt.date],
                levels: tuple[str, ...] = LEVELS) -> DataFrame:
    """rfm_migrations rows between two runs' customers ((run id, as-of date) of each)."""
    # A customer is a customer id, per partition when runs grade per partition.
    keys = ["customer_id"] + [c for c in PARTITION_ROLES
                              if c in from_customers.columns and c in to_customers.columns]

    def side(customers: DataFrame, prefix: str) -> DataFrame:
        return customers.select(
            *[F.col(key).alias(f"{prefix}_{key}") for key in keys],
            F.col("monetary").alias(f"monetary_{prefix}"),
            *[F.col(level).alias(f"{prefix}_{level}") for level in levels])

    same_customer = reduce(lambda a, b: a & b, [
        F.col(f"from_{key}").eqNullSafe(F.col(f"to_{key}")) for key in keys])

    # One row per customer in either run, then one row per customer and level.
    moves = F.explode(F.array(*[
        F.struct(F.lit(level).alias("level"), F.col(f"from_{level}").alias("from_value"),
                 F.col(f"to_{level}").alias("to_value"))
        for level in levels]))
    is_new = F.col("from_value").isNull()
    is_gone = F.col("to_value").isNull()
    change = (F.when(is_new, "new").when(is_gone, "gone")
              .when(F.col("from_value") == F.col("to_value"), "same").otherwise("moved"))
    no_money = F.lit(0).cast(MONETARY)
    return (
        side(from_customers, "from").join(side(to_customers, "to"), same_customer, "full")
        .select(moves.alias("move"), "monetary_from", "monetary_to")
        .groupBy("move.level", "move.from_value", "move.to_value")
        .agg(F.count(F.lit(1)).alias("customers"),
             F.sum("monetary_from").alias("monetary_from"),
             F.sum("monetary_to").alias("monetary_to"))
        .select(
            F.lit(from_run[0]).alias("from_run_id"), F.lit(to_run[0]).alias("to_run_id"),
            F.lit(from_run[1]).alias("from_as_of_date"), F.lit(to_run[1]).alias("to_as_of_date"),
            "level", "from_value", "to_value", change.alias("change"), "customers",
            F.coalesce(F.col("monetary_from").cast(MONETARY), no_money).alias("monetary_from"),
            F.coalesce(F.col("monetary_to").cast(MONETARY), no_money).alias("monetary_to"),
        )
    )
