"""A campaign for people: the arms per cell, the results table, and the lift of every
cell with its interval as bars (HTML for the notebook)."""
from __future__ import annotations

import html
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


def lift_bars_html(results: Sequence, width: int = 320) -> str:
    """An HTML table: each value's lift as a dot on its 95% interval, zero marked."""
    shown = [r for r in results if r.lift is not None]
    low = min([r.lift_ci_low for r in shown] + [0.0])
    high = max([r.lift_ci_high for r in shown] + [0.0])
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return round((value - low) / span * (width - 20) + 10, 1)

    rows = []
    for r in shown:
        colour = "#1a7f37" if r.decision == "send" else "#57606a"
        bar = (f'<svg width="{width}" height="16"><line x1="{x(0)}" x2="{x(0)}" y1="0" y2="16" '
               f'stroke="#999" stroke-dasharray="2"/><line x1="{x(r.lift_ci_low)}" '
               f'x2="{x(r.lift_ci_high)}" y1="8" y2="8" stroke="{colour}" stroke-width="3"/>'
               f'<circle cx="{x(r.lift)}" cy="8" r="4" fill="{colour}"/></svg>')
        rows.append(f"<tr><td>{html.escape(r.level)}</td><td>{html.escape(str(r.value))}</td>"
                    f"<td>{r.test_customers:,}</td><td>{r.control_customers:,}</td>"
                    f"<td>{_rate(r.test_response_rate)}</td><td>{_rate(r.control_response_rate)}"
                    f"</td><td>{_rate(r.lift)}</td><td>{bar}</td>"
                    f"<td>{html.escape(r.decision)}</td></tr>")
    head = ("<tr><th>level</th><th>value</th><th>test</th><th>control</th><th>test rate</th>"
            f"<th>control rate</th><th>lift</th><th>lift, 95% interval ({low:+.1%} to "
            f"{high:+.1%})</th><th>decision</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"
