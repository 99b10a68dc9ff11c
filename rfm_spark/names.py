"""Names that end up inside SQL text (Delta predicates, table references, column
expressions), each checked against one pattern before it is used."""
from __future__ import annotations

import re

from rfm_spark.errors import ConfigError

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
ATTEMPT_ID = re.compile(r"[0-9a-f]{32}")
DATABASE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
# Source columns are quoted in backticks, which they cannot contain: letters of any
# script, digits, `_ . -` and spaces.
COLUMN = re.compile(r"[^\W\d][\w .-]*")


def check_run_id(run_id: str) -> str:
    """Run ids end up in Delta predicates: only letters, digits and `_ . : -`."""
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise ConfigError(f"run id {run_id!r}: use 1-128 letters, digits, '_', '.', ':' or "
                          "'-', starting with a letter or digit")
    return run_id


def check_attempt_id(attempt_id: str) -> str:
    if not ATTEMPT_ID.fullmatch(attempt_id):
        raise ValueError(f"attempt id {attempt_id!r}: expected 32 hex digits")  # a bug
    return attempt_id


def sql_string(text: str) -> str:
    """A SQL string literal: quotes doubled, backslashes escaped (Spark's default)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
