"""Clean stage: every transaction gets a `reject_reason`, NULL for the rows that are used.

Rows are flagged, not filtered, so the run can report what it dropped and why and the
counts always add up: rows read = rows used + rows rejected. A row carries the first
reason that applies, in the order of REJECT_REASONS.

The two reasons that depend on the as-of date are applied by `flag_as_of`, which also
works on rows already aggregated per customer and day: a backfill flags and aggregates
the transactions once, then re-flags that small table for each as-of date.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from rfm_spark.config import Clean

REJECT_REASONS = (
    "malformed_row",        # CSV line with the wrong number of fields
    "missing_customer_id",  # NULL or blank customer id
    "bad_date",             # missing, or does not match input.date_format
    "bad_amount",           # missing or not a number
    "after_as_of",          # dated after the as-of date
    "before_lookback",      # older than clean.lookback_days before the as-of date
    "country_excluded",     # country not in clean.countries
    "cancelled",            # order id with the cancellation prefix, or negative quantity
    "non_positive_amount",  # amount <= 0, when clean.drop_non_positive_amounts
)


# A row rejected for one of these keeps its reason whatever the as-of date.
_BEFORE_AS_OF_REASONS = REJECT_REASONS[:REJECT_REASONS.index("after_as_of")]


def flag_rejects(transactions: DataFrame, policy: Clean, as_of: dt.date | None) -> DataFrame:
    """Adds `reject_reason` (NULL = row is used) to typed transactions; with `as_of`
    None, the reasons that depend on it are left to `flag_as_of`."""
    conditions = _reject_conditions(policy)
    reason = F.lit(None).cast("string")
    for name in reversed(REJECT_REASONS):
        if name in conditions:
            reason = F.when(conditions[name], F.lit(name)).otherwise(reason)
    flagged = transactions.withColumn("reject_reason", reason)
    return flagged if as_of is None else flag_as_of(flagged, policy, as_of)


def flag_as_of(flagged: DataFrame, policy: Clean, as_of: dt.date) -> DataFrame:
    """Applies the as-of reasons to rows flagged without them, respecting the order of
    REJECT_REASONS: they override the reasons after them and NULL, never those before."""
    date = F.col("purchase_date")
    keeps_reason = F.col("reject_reason").isin(list(_BEFORE_AS_OF_REASONS))
    reason = F.when(keeps_reason, F.col("reject_reason"))
    reason = reason.when(date > F.lit(as_of), F.lit("after_as_of"))
    if policy.lookback_days is not None:
        first_day = as_of - dt.timedelta(days=policy.lookback_days - 1)
        reason = reason.when(date < F.lit(first_day), F.lit("before_lookback"))
    return flagged.withColumn("reject_reason", reason.otherwise(F.col("reject_reason")))


def _reject_conditions(policy: Clean) -> dict[str, Column]:
    date = F.col("purchase_date")
    amount = F.col("amount")
    customer_is_blank = F.col("customer_id").isNull() | (F.trim("customer_id") == "")
    conditions = {
        "malformed_row": F.col("malformed"),
        "missing_customer_id": customer_is_blank,
        "bad_date": date.isNull(),
        "bad_amount": amount.isNull(),
    }
    if policy.countries is not None:
        in_countries = F.col("country").isin(list(policy.countries))
        conditions["country_excluded"] = ~F.coalesce(in_countries, F.lit(False))
    if policy.cancellations == "drop":
        by_order = F.coalesce(F.col("order_id").startswith(policy.cancellation_prefix),
                              F.lit(False))
        by_quantity = F.coalesce(F.col("quantity") < 0, F.lit(False))
        conditions["cancelled"] = by_order | by_quantity
    if policy.drop_non_positive_amounts:
        conditions["non_positive_amount"] = amount <= 0
    return conditions
