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
from pyspark.sql import Window as W
from pyspark.sql import functions as F

from rfm_spark.config import Clean
from rfm_spark.errors import ConfigError
from rfm_spark.reasons import REJECT_REASONS

_SPACE = r"[\s\p{Z}\u200b\ufeff]"  # Java regex: white space, Unicode spaces, zero-width
_BLANK = f"^{_SPACE}*$"

# Rows failing these are not compared for duplicates: a bad row repeats nothing.
_UNUSABLE_REASONS = REJECT_REASONS[:REJECT_REASONS.index("duplicate")]
# A row rejected for one of these keeps its reason whatever the as-of date.
_BEFORE_AS_OF_REASONS = REJECT_REASONS[:REJECT_REASONS.index("after_as_of")]


def flag_rejects(transactions: DataFrame, policy: Clean, as_of: dt.date | None) -> DataFrame:
    """Adds `reject_reason` (NULL = row is used) and `netted` (a cancellation used with a
    negative amount, under `cancellations: net`) to typed transactions; with `as_of`
    None, the reasons that depend on it are left to `flag_as_of`."""
    if policy.trim_customer_id:
        transactions = transactions.withColumn("customer_id", _trimmed(F.col("customer_id")))
    conditions = _reject_conditions(policy)
    reason = F.lit(None).cast("string")
    for name in reversed(REJECT_REASONS):
        if name in conditions:
            reason = F.when(conditions[name], F.lit(name)).otherwise(reason)
    # An implausible date is no date to keep: the row's raw values still show it (and
    # some, such as +10000-01-01, cannot even be held by Python's datetime).
    implausible = F.col("reject_reason").eqNullSafe(F.lit("implausible_date"))
    flagged = (transactions.withColumn("reject_reason", reason)
               .withColumn("purchase_date", F.when(~implausible, F.col("purchase_date"))))
    if policy.duplicate_key:
        flagged = flagged.transform(_flag_duplicates, policy.duplicate_key)
    flagged = flagged.transform(_net_cancellations, policy)
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
    reason = reason.otherwise(F.col("reject_reason"))
    if "netted" not in flagged.columns:  # `aggregate_daily` rows count their netted rows
        return flagged.withColumn("reject_reason", reason)
    # A netted cancellation stays one only while the row is used.
    return flagged.withColumns({"reject_reason": reason,
                                "netted": F.col("netted") & reason.isNull()})


def _reject_conditions(policy: Clean) -> dict[str, Column]:
    date = F.col("purchase_date")
    amount = F.col("amount")
    customer_is_blank = F.col("customer_id").isNull() | F.col("customer_id").rlike(_BLANK)
    conditions = {
        "malformed_row": F.col("malformed"),
        "missing_customer_id": customer_is_blank,
        "bad_date": date.isNull(),
        "implausible_date": (date < F.lit(policy.earliest_date))
        | (date > F.lit(policy.latest_date)),
        "bad_amount": amount.isNull(),
    }
    if policy.customer_id_pattern is not None:
        matches = F.col("customer_id").rlike(f"^(?:{policy.customer_id_pattern})$")
        conditions["unidentified_customer"] = ~matches
    if policy.countries is not None:
        in_countries = F.col("country").isin(list(policy.countries))
        conditions["country_excluded"] = ~F.coalesce(in_countries, F.lit(False))
    if policy.cancellations == "drop":
        conditions["cancelled"] = _is_cancellation(policy)
    if policy.drop_non_positive_amounts:
        is_netted = _is_cancellation(policy) if policy.cancellations == "net" else F.lit(False)
        conditions["non_positive_amount"] = (amount <= 0) & ~is_netted
    return conditions


def _trimmed(customer_id: Column) -> Column:
    """Without surrounding white space, no-break and other Unicode spaces included."""
    return F.regexp_replace(customer_id, f"^{_SPACE}+|{_SPACE}+$", "")


def _is_cancellation(policy: Clean) -> Column:
    by_order = F.coalesce(F.col("order_id").startswith(policy.cancellation_prefix), F.lit(False))
    by_quantity = F.coalesce(F.col("quantity") < 0, F.lit(False))
    return by_order | by_quantity


def _flag_duplicates(flagged: DataFrame, key: list[str]) -> DataFrame:
    """Flags every row after the first with the same key values (NULLs equal) among rows
    that are usable so far; the first is the one from the first file, then the one whose
    values sort first, so re-runs keep the same row."""
    fields = flagged.schema["values"].dataType.fieldNames()
    missing = [name for name in key if name not in fields]
    if missing:
        named = ", ".join(f"clean.duplicate_key[{key.index(name)}]: {name!r}" for name in missing)
        raise ConfigError(f"the config names columns the input does not have ({named}); "
                          f"it has {fields}")
    unusable = F.coalesce(F.col("reject_reason").isin(list(_UNUSABLE_REASONS)), F.lit(False))
    same_key = (W.partitionBy(*[F.col("values")[name] for name in key], unusable)
                .orderBy(F.col("source_file").asc_nulls_first(), F.to_json("values")))
    repeats = ~unusable & (F.row_number().over(same_key) > 1)
    reason = F.when(unusable, F.col("reject_reason")).when(repeats, F.lit("duplicate"))
    return flagged.withColumn("reject_reason", reason.otherwise(F.col("reject_reason")))


def _net_cancellations(flagged: DataFrame, policy: Clean) -> DataFrame:
    """Under `cancellations: net`, a used cancellation subtracts its amount."""
    if policy.cancellations != "net":
        return flagged.withColumn("netted", F.lit(False))
    netted = _is_cancellation(policy) & F.col("reject_reason").isNull()
    amount = F.when(netted, -F.abs("amount")).otherwise(F.col("amount"))
    return flagged.withColumns({"netted": netted, "amount": amount})


def quarantined(flagged: DataFrame, reasons: list[str] | None, pseudonymised: bool = False
                ) -> DataFrame:
    """rfm_rejects rows: the rejected transactions (of `reasons`; None: all) with the raw
    CSV record when it was malformed, otherwise their source values as JSON. With ids
    pseudonymised, no raw text is kept (a shifted field may hold an id anywhere), nor the
    values parsed from a malformed record; the customer id shown is the hash."""
    is_quarantined = (F.col("reject_reason").isNotNull() if reasons is None
                      else F.col("reject_reason").isin(list(reasons)))
    raw = F.coalesce(F.col("raw_line"), F.to_json("values"))
    parsed = [F.col("purchase_date"), F.col("amount")]
    if pseudonymised:
        raw = F.lit(None).cast("string")
        parsed = [F.when(~F.col("malformed"), column) for column in parsed]
    return flagged.where(is_quarantined).select(
        F.col("reject_reason").alias("reason"),
        F.col("source_file"),
        raw.alias("raw"),
        "customer_id", parsed[0].alias("purchase_date"), parsed[1].alias("amount"),
    )
