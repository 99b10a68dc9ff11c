"""The reject reasons, in the order the clean stage applies them: a row carries the first
that applies. Pure data, so the config can check names against it before Spark starts."""
from __future__ import annotations

REJECT_REASONS = (
    "malformed_row",          # CSV record with the wrong number of fields
    "missing_customer_id",    # NULL, blank, or NaN / Infinity in a float id column
    "unidentified_customer",  # id not matching clean.customer_id_pattern (e.g. no card)
    "bad_date",               # missing, or does not match input.date_format
    "implausible_date",       # outside clean.earliest_date .. clean.latest_date
    "bad_amount",             # missing, or not a plain decimal number
    "duplicate",              # repeats an earlier row's clean.duplicate_key
    "after_as_of",            # dated after the as-of date
    "before_lookback",        # older than clean.lookback_days before the as-of date
    "country_excluded",       # country not in clean.countries
    "cancelled",              # order id with the cancellation prefix, or negative quantity
    "non_positive_amount",    # amount <= 0, when clean.drop_non_positive_amounts
)

# Rows whose customer is unknown: the quality report's unidentified shares.
UNIDENTIFIED_REASONS = ("missing_customer_id", "unidentified_customer")
