import datetime as dt
from decimal import Decimal

from rfm_spark.clean import flag_as_of, flag_rejects
from rfm_spark.config import Clean
from rfm_spark.read import TRANSACTION_SCHEMA

D = dt.date


def transactions(spark, rows):
    """Rows of (customer, date, amount, order, quantity, store, country, channel, item),
    padded with NULLs."""
    full = [(*row, *([None] * (9 - len(row))), False) for row in rows]
    money = [(c, d, None if a is None else Decimal(str(a)), *rest) for c, d, a, *rest in full]
    return spark.createDataFrame(money, TRANSACTION_SCHEMA)


def reasons(frame):
    return {row.customer_id or repr(row.customer_id): row.reject_reason for row in frame.collect()}


def test_each_reason_and_the_first_one_wins(spark):
    rows = [
        ("ok", D(2024, 1, 10), 5.0, "1", 1.0, None, "UK"),
        (None, None, None),                                   # all three wrong: customer first
        ("   ", D(2024, 1, 10), 5.0),                          # blank id
        ("no_date", None, 5.0),
        ("no_amount", D(2024, 1, 10), None),
        ("future", D(2024, 1, 11), 5.0, "1", 1.0, None, "UK"),
        ("old", D(2023, 12, 1), 5.0, "1", 1.0, None, "UK"),    # lookback: 40 days
        ("edge", D(2023, 12, 2), 5.0, "1", 1.0, None, "UK"),   # first day of the lookback
        ("abroad", D(2024, 1, 10), 5.0, "1", 1.0, None, "FR"),
        ("no_country", D(2024, 1, 10), 5.0, "1", 1.0, None, None),
        ("cancel", D(2024, 1, 10), 5.0, "C7", 1.0, None, "UK"),
        ("return", D(2024, 1, 10), -5.0, "8", -1.0, None, "UK"),
        ("free", D(2024, 1, 10), 0.0, "9", 1.0, None, "UK"),
        ("future_cancel", D(2024, 1, 11), 5.0, "C9", 1.0, None, "UK"),  # as-of reason first
        ("future_no_date", None, 5.0, "C9", 1.0, None, "UK"),           # earlier reason kept
    ]
    policy = Clean(lookback_days=40, countries=["UK"], cancellations="drop",
                   drop_non_positive_amounts=True)
    got = reasons(flag_rejects(transactions(spark, rows), policy, D(2024, 1, 10)))
    assert got == {
        "ok": None, "None": "missing_customer_id", "''": "missing_customer_id",  # trimmed
        "no_date": "bad_date", "no_amount": "bad_amount", "future": "after_as_of",
        "old": "before_lookback", "edge": None, "abroad": "country_excluded",
        "no_country": "country_excluded", "cancel": "cancelled", "return": "cancelled",
        "free": "non_positive_amount", "future_cancel": "after_as_of",
        "future_no_date": "bad_date",
    }
    # A backfill flags once without the as-of date, then applies it: same reasons.
    two_steps = flag_as_of(flag_rejects(transactions(spark, rows), policy, None), policy,
                           D(2024, 1, 10))
    assert reasons(two_steps) == got


def test_default_policy_keeps_cancellations_and_needs_no_as_of(spark):
    rows = [("return", D(2024, 1, 10), -5.0, "C8", -1.0), ("later", D(2030, 1, 1), 1.0)]
    got = reasons(flag_rejects(transactions(spark, rows), Clean(), None))
    assert got == {"return": None, "later": None}


def test_malformed_rows_are_rejected_first(spark):
    frame = spark.createDataFrame(
        [("c1", D(2024, 1, 1), Decimal(1), None, None, None, None, None, None, True)], TRANSACTION_SCHEMA)
    assert reasons(flag_rejects(frame, Clean(), None)) == {"c1": "malformed_row"}


def test_ids_are_trimmed_of_unicode_spaces_unless_told_not_to(spark):
    rows = [("  42", D(2024, 1, 1), 1.0), ("42", D(2024, 1, 2), 1.0),
            ("42\u00a0", D(2024, 1, 3), 1.0), ("\u202f42\t", D(2024, 1, 4), 1.0),
            ("4 2", D(2024, 1, 5), 1.0), ("\u00a0 ", D(2024, 1, 6), 1.0)]
    trimmed = flag_rejects(transactions(spark, rows), Clean(), None).collect()
    assert sorted((r.customer_id, r.reject_reason) for r in trimmed) == [
        ("", "missing_customer_id"), ("4 2", None), ("42", None), ("42", None), ("42", None),
        ("42", None)]
    kept = flag_rejects(transactions(spark, rows), Clean(trim_customer_id=False), None)
    assert len({r.customer_id for r in kept.where("reject_reason IS NULL").collect()}) == 5
    assert kept.where("reject_reason = 'missing_customer_id'").count() == 1  # blank anyway


def test_implausible_dates_are_rejected_and_not_kept(spark):
    rows = [("old", D(1, 1, 1), 1.0), ("far", D(9999, 12, 31), 1.0), ("ok", D(1990, 5, 5), 1.0),
            ("first", D(1900, 1, 1), 1.0), ("last", D(2100, 12, 31), 1.0)]
    flagged = flag_rejects(transactions(spark, rows), Clean(), None).collect()
    got = {r.customer_id: (r.reject_reason, r.purchase_date) for r in flagged}
    assert got == {"old": ("implausible_date", None), "far": ("implausible_date", None),
                   "ok": (None, D(1990, 5, 5)), "first": (None, D(1900, 1, 1)),
                   "last": (None, D(2100, 12, 31))}
    narrower = Clean(earliest_date=D(2000, 1, 1))
    assert reasons(flag_rejects(transactions(spark, rows), narrower, None))["ok"] == \
        "implausible_date"
