"""BG/NBD and Gamma-Gamma at one date, from customer days: the distinct (x, t_x, T)
combinations and their counts go to the driver for the fit (`btyd.py`), and each
combination's P(alive), expected purchases and P(no purchase) come back as a small
table joined to the customers. Bound: combinations are at most the customers, and at
most (days of history)^2 / 2 per repeat count; H&M-shaped data has far fewer, as most
customers share a few (x, t_x, T) values (`MAX_COMBINATIONS` guards the driver).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark.churn import btyd
from rfm_spark.errors import InputError

MAX_COMBINATIONS = 2_000_000   # (x, t_x, T) triples, ~100 MB on the driver
_KEY = ["x", "t_x_days", "T_days"]


@dataclasses.dataclass(frozen=True)
class Fitted:
    bgnbd: btyd.BgNbd
    gamma_gamma: btyd.GammaGamma | None   # None: too few repeat customers to fit
    combinations: np.ndarray              # the (x, t_x days, T days) rows fitted on


def rfm_at(days: DataFrame, at: dt.date) -> DataFrame:
    """customer_id, x, t_x_days, T_days, mean_value (of repeat purchase days) and
    first_value from the customer days on or before `at`."""
    return (days.where(F.col("purchase_date") <= F.lit(at))
            .groupBy("customer_id")
            .agg(F.count(F.lit(1)).alias("purchase_days"),
                 F.min("purchase_date").alias("first"), F.max("purchase_date").alias("last"),
                 F.sum("amount").cast("double").alias("money"),
                 F.min_by("amount", "purchase_date").cast("double").alias("first_money"))
            .select("customer_id", (F.col("purchase_days") - 1).alias("x"),
                    F.datediff("last", "first").alias("t_x_days"),
                    F.datediff(F.lit(at), "first").alias("T_days"),
                    F.when(F.col("purchase_days") > 1,
                           (F.col("money") - F.col("first_money")) / (F.col("purchase_days") - 1))
                    .alias("mean_value"),
                    F.col("first_money").alias("first_value")))


def fit(per_customer: DataFrame) -> Fitted:
    """Both models by maximum likelihood on the combinations with their counts."""
    combos = per_customer.groupBy(*_KEY).count()
    found = combos.count()
    if found > MAX_COMBINATIONS:
        raise InputError(f"{found:,} distinct (x, t_x, T) combinations: more than the "
                         f"{MAX_COMBINATIONS:,} the driver fits on")
    rows = np.array(combos.collect(), dtype=float)  # at most MAX_COMBINATIONS rows
    x, t_x, T, counts = rows.T
    week = btyd.TIME_UNIT_DAYS
    bgnbd = btyd.fit_bgnbd(x, t_x / week, T / week, counts)
    # Means in 1% bins: at most (distinct x) x ~2,000 rows, whatever the customers.
    binned = F.exp(F.round(F.log("mean_value"), 2))
    values = (per_customer.where((F.col("x") > 0) & (F.col("mean_value") > 0))
              .groupBy("x", binned.alias("mean_value")).count()
              .collect())  # (distinct x) x ~2,000 bins at most
    gamma_gamma = None
    if len(values) >= 10:
        v = np.array(values, dtype=float)
        gamma_gamma = btyd.fit_gamma_gamma(v[:, 0], v[:, 1], v[:, 2])
    return Fitted(bgnbd, gamma_gamma, rows[:, :3])


def scores(spark: SparkSession, per_customer: DataFrame, fitted: Fitted, horizon_days: int,
           clv_months: int = 12, monthly_discount: float = 0.01) -> DataFrame:
    """customer_id, x, t_x_days, T_days, mean_value, p_alive, expected_purchases and
    p_no_purchase over the horizon, expected_order_value and clv: the BG/NBD values are
    computed once per combination the fit saw (`per_customer` as given to `fit`) on the
    driver and joined back; the order value per customer, in Spark."""
    x, t_x, T = fitted.combinations.T
    week = btyd.TIME_UNIT_DAYS
    model = fitted.bgnbd
    weeks = (t_x / week, T / week)
    table = list(zip(
        x.astype(int).tolist(), t_x.astype(int).tolist(), T.astype(int).tolist(),
        btyd.p_alive(model, x, *weeks).tolist(),
        btyd.expected_purchases(model, horizon_days / week, x, *weeks).tolist(),
        btyd.p_no_purchase(model, horizon_days / week, x, *weeks).tolist(),
        btyd.clv(model, 1.0, clv_months, monthly_discount, x, *weeks).tolist()))
    by_combination = spark.createDataFrame(
        table, "x int, t_x_days int, T_days int, p_alive double, expected_purchases double, "
               "p_no_purchase double, discounted_purchases double")
    order_value = expected_order_value(fitted.gamma_gamma, per_customer)
    return (per_customer.join(by_combination, _KEY)
            .withColumn("expected_order_value", order_value)
            .select("customer_id", *_KEY, "mean_value", "p_alive", "expected_purchases",
                    "p_no_purchase", "expected_order_value",
                    (F.col("discounted_purchases") * F.col("expected_order_value")).alias("clv")))


def expected_order_value(model: btyd.GammaGamma | None, per_customer: DataFrame):
    """Gamma-Gamma's E[value | x, mean] as a column: p (v + x m) / (p x + q - 1), the
    population mean p v / (q - 1) for customers without a repeat purchase. Without a fit
    (too few repeat customers) or with q <= 1 (no finite mean), the customer's own mean,
    else the first purchase's value."""
    own = F.coalesce(F.col("mean_value"), F.col("first_value"))
    if model is None or model.q <= 1:
        return own
    x, m = F.col("x"), F.coalesce(F.col("mean_value"), F.lit(0.0))
    return (F.lit(model.p) * (F.lit(model.v) + x * m)) / (F.lit(model.p) * x + F.lit(model.q) - 1)
