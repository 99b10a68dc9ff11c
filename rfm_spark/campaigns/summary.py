"""A campaign for people: the arms per cell and the results table (the charts of lift
and response per cell are in `rfm_spark.figures`)."""
from __future__ import annotations

from typing import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def ordered_results(results: DataFrame) -> list:
    """rfm_campaign_results rows of one window, total first, then by level and value:
    one row per level and value (a few dozen)."""
    level_order = F.array_position(F.array(*map(F.lit, ("total", "group", "segment",
                                                        "segment_code"))), F.col("level"))
    return results.orderBy(level_order, "value").collect()


def arms_report(rows: Sequence) -> str:
    """Test and control members per cell (rows: segment_code, segment, arm, count)."""
    cells: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        cells.setdefault((row.segment_code, row.segment), {})[row.arm] = row["count"]
    width = max([len(segment) for _, segment in cells] + [7])
    lines = [f"{'code':<6}  {'segment':<{width}}  {'test':>9}  {'control':>9}"]
    for (code, segment), arms in sorted(cells.items()):
        lines.append(f"{code:<6}  {segment:<{width}}  {arms.get('test', 0):>9,}  "
                     f"{arms.get('control', 0):>9,}")
    return "\n".join(lines)


def _rate(value) -> str:
    return "" if value is None else f"{value:.2%}"


def campaign_report(results: Sequence) -> str:
    """One line per level and value of rfm_campaign_results rows."""
    width = max([len(str(r.value)) for r in results] + [5])
    lines = [f"{'level':<12}  {'value':<{width}}  {'test':>8}  {'control':>8}  {'test rate':>9}  "
             f"{'ctrl rate':>9}  {'lift':>8}  {'95% interval':>19}  {'p adj':>7}  decision"]
    for r in results:
        interval = ("" if r.lift_ci_low is None
                    else f"[{r.lift_ci_low:+.2%}, {r.lift_ci_high:+.2%}]")
        adjusted = "" if r.p_value_adjusted is None else f"{r.p_value_adjusted:.3f}"
        lines.append(f"{r.level:<12}  {str(r.value):<{width}}  {r.test_customers:>8,}  "
                     f"{r.control_customers:>8,}  {_rate(r.test_response_rate):>9}  "
                     f"{_rate(r.control_response_rate):>9}  {_rate(r.lift):>8}  "
                     f"{interval:>19}  {adjusted:>7}  {r.decision}")
    complete = all(r.window_complete for r in results)
    if results and not complete:
        lines.append(f"window incomplete: measured through {results[0].measured_through}")
    return "\n".join(lines)
