"""Run history: threshold drift, fill dynamics and one customer's path across runs.

Each function takes run tables as read through `lakehouse.read_table` (succeeded runs
only) and returns a small DataFrame ordered by as-of date. Changes are computed between
consecutive runs of the same scheme (grading and segment rules, `scheme_sha256`), since
grades and segments of different schemes do not compare.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import Window as W
from pyspark.sql import functions as F

_RUN_ORDER = ("as_of_date", "finished_at", "run_id")


def threshold_drift(thresholds: DataFrame, runs: DataFrame) -> DataFrame:
    """Per metric and grade, run by run: cut points, grade size and values held, with
    the change since the previous run of the same scheme."""
    previous = W.partitionBy("scheme_sha256", "metric", "grade").orderBy(*_RUN_ORDER)

    def change(column: str) -> Column:
        return (F.col(column) - F.lag(column).over(previous)).alias(f"{column}_change")

    # Cut points are recorded as doubles; rounding to the 8 decimals money is kept in
    # drops the noise of subtracting them (0.001002 - not 0.0010020000000000029).
    cut_point_change = F.when(
        F.size(F.lag("cut_points").over(previous)) == F.size("cut_points"),
        F.zip_with("cut_points", F.lag("cut_points").over(previous),
                   lambda now, then: F.round(now - then, 8)))
    return (
        thresholds.drop("as_of_date")
        .join(_run_keys(runs), "run_id")
        .select(
            "scheme_sha256", "metric", "grade", "as_of_date", "run_id",
            F.lag("run_id").over(previous).alias("previous_run_id"),
            "method", "cut_points", cut_point_change.alias("cut_points_change"),
            "customers", change("customers"), "min_value", "max_value",
        )
        .orderBy("scheme_sha256", "metric", "grade", "as_of_date", "run_id")
    )


def fill_dynamics(segments: DataFrame, runs: DataFrame, level: str = "group") -> DataFrame:
    """Per run and value of `level` (segment_code, segment or group): customers, share of
    customers, monetary and share of monetary, and the change in customers since the
    previous run of the same scheme."""
    per_run = W.partitionBy("run_id").rowsBetween(W.unboundedPreceding, W.unboundedFollowing)
    previous = W.partitionBy("scheme_sha256", "value").orderBy(*_RUN_ORDER)
    sizes = (segments.drop("as_of_date").join(_run_keys(runs), "run_id")
             .groupBy("scheme_sha256", *_RUN_ORDER, F.col(level).alias("value"))
             .agg(F.sum("customers").alias("customers"),
                  F.sum("monetary_total").alias("monetary_total")))
    return (
        sizes.select(
            "scheme_sha256", "as_of_date", "run_id", F.lit(level).alias("level"), "value",
            "customers",
            F.try_divide("customers", F.sum("customers").over(per_run)).alias("share"),
            "monetary_total",
            F.try_divide(F.col("monetary_total").cast("double"),
                         F.sum(F.col("monetary_total").cast("double")).over(per_run))
            .alias("monetary_share"),
            (F.col("customers") - F.lag("customers").over(previous)).alias("customers_change"),
        )
        .orderBy("scheme_sha256", "as_of_date", "run_id", "value")
    )


def customer_history(customers: DataFrame, runs: DataFrame, customer_id: str) -> DataFrame:
    """One customer's metrics, grades and segment levels in every run, oldest first."""
    return (
        customers.where(F.col("customer_id") == F.lit(customer_id))
        .drop("as_of_date")
        .join(_run_keys(runs), "run_id")
        .select("as_of_date", "run_id", "customer_id", "recency_days", "frequency", "monetary",
                "r_grade", "f_grade", "m_grade", "segment_code", "segment", "group")
        .orderBy("as_of_date", "run_id")
    )


def _run_keys(runs: DataFrame) -> DataFrame:
    return runs.select("run_id", "as_of_date", "finished_at", "scheme_sha256")
