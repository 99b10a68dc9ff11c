"""How a campaign did: each member's response in the window (transforms), their counts
per cell and arm (a small aggregate), and from those counts the rows of
rfm_campaign_results at every level (plain Python on at most cells x 2 numbers)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rfm_spark.campaigns import stats
from rfm_spark.campaigns.assign import CONTROL, TEST
from rfm_spark.metrics import MONETARY

LEVELS = ("segment_code", "segment", "group", "total")
_CENT = Decimal("0.00000001")


@dataclasses.dataclass(frozen=True)
class Decision:
    """`send` when the test arm's response rate is above `min_response` (source 000's
    rule) or, when cost and margin are given, when the lift's lower bound times the
    margin is above the cost of a contact."""
    min_response: float = 0.03
    cost_per_contact: float | None = None
    margin_per_response: float | None = None

    def __call__(self, test_rate: float, ci_low: float) -> str:
        if self.cost_per_contact is not None:
            worth_it = ci_low * self.margin_per_response > self.cost_per_contact
        else:
            worth_it = test_rate > self.min_response
        return "send" if worth_it else "stop"


def responses(flagged: DataFrame, start_date: dt.date, window_days: int) -> DataFrame:
    """Per customer with a used row in [start, start + window): `responded` (a used
    purchase that is no netted cancellation) and `revenue` (the used amount)."""
    in_window = ((F.col("purchase_date") >= F.lit(start_date))
                 & (F.col("purchase_date") < F.date_add(F.lit(start_date), window_days)))
    used = F.col("reject_reason").isNull()
    bought = ~F.col("netted")
    return (flagged.where(used & in_window)
            .groupBy("customer_id")
            .agg(F.max(bought).alias("responded"),
                 F.sum("amount").cast(MONETARY).alias("revenue")))


def cell_counts(members: DataFrame, responded: DataFrame) -> DataFrame:
    """Members, responders and revenue per (segment_code, segment, group, arm)."""
    did_respond = F.coalesce(F.col("responded"), F.lit(False))
    return (members.join(responded, "customer_id", "left")
            .groupBy("segment_code", "segment", "group", "arm")
            .agg(F.count(F.lit(1)).alias("members"),
                 F.count(F.when(did_respond, 1)).alias("responders"),
                 F.coalesce(F.sum("revenue"), F.lit(0)).cast(MONETARY).alias("revenue")))


@dataclasses.dataclass
class _Value:
    arms: stats.Arms
    test_revenue: Decimal
    control_revenue: Decimal
    cells: list[stats.Arms]


def result_rows(counts: Sequence, control_share: float, decide: Decision) -> list[dict]:
    """rfm_campaign_results' statistics for every level and value, from `cell_counts`
    rows (one per cell and arm: at most twice the number of codes)."""
    rows = []
    for level in LEVELS:
        values = _values(counts, level)
        compared = {value: stats.compare(v.arms) for value, v in values.items() if v.arms.both}
        if level == "total" and compared:
            compared = {"all": stats.post_stratified(values["all"].cells)}
        adjusted = dict(zip(compared, stats.holm([c.p_value for c in compared.values()])))
        for value, found in sorted(values.items()):
            rows.append(_row(level, value, found, compared.get(value), adjusted.get(value),
                             control_share, decide))
    return rows


def _values(counts: Sequence, level: str) -> dict[str, _Value]:
    sums: dict[str, dict] = {}
    cells: dict[str, dict[str, list[int]]] = {}
    for row in counts:
        value = "all" if level == "total" else getattr(row, level)
        found = sums.setdefault(value, {TEST: [0, 0, Decimal(0)], CONTROL: [0, 0, Decimal(0)]})
        found[row.arm][0] += row.members
        found[row.arm][1] += row.responders
        found[row.arm][2] += row.revenue
        cell = cells.setdefault(value, {}).setdefault(row.segment_code, [0, 0, 0, 0])
        offset = 0 if row.arm == TEST else 1
        cell[offset] += row.members
        cell[offset + 2] += row.responders
    return {value: _Value(stats.Arms(s[TEST][0], s[CONTROL][0], s[TEST][1], s[CONTROL][1]),
                          s[TEST][2], s[CONTROL][2],
                          [stats.Arms(*cell) for cell in cells[value].values()])
            for value, s in sums.items()}


def _row(level: str, value: str, found: _Value, compared: stats.Comparison | None,
         adjusted: float | None, control_share: float, decide: Decision) -> dict:
    arms = found.arms
    test_rate = arms.test_responders / arms.test if arms.test else None
    control_rate = arms.control_responders / arms.control if arms.control else None
    incremental = None
    if arms.both:
        per_member = (found.test_revenue / arms.test - found.control_revenue / arms.control)
        incremental = (per_member * arms.test).quantize(_CENT)
    found_stats = {"lift": None, "lift_ci_low": None, "lift_ci_high": None, "p_value": None,
                   "test_name": None, "mde": None}
    if compared is not None:
        found_stats = {"lift": compared.lift, "lift_ci_low": compared.ci_low,
                       "lift_ci_high": compared.ci_high, "p_value": compared.p_value,
                       "test_name": compared.test_used, "mde": compared.mde}
    return {
        "level": level, "value": value,
        "test_customers": arms.test, "control_customers": arms.control,
        "test_responders": arms.test_responders, "control_responders": arms.control_responders,
        "test_response_rate": test_rate, "control_response_rate": control_rate,
        **found_stats,
        "p_value_adjusted": adjusted,
        "test_revenue": found.test_revenue, "control_revenue": found.control_revenue,
        "incremental_revenue": incremental,
        "srm_p_value": stats.srm_p_value(arms, control_share),
        "decision": decide(test_rate, compared.ci_low) if compared else "stop",
    }
