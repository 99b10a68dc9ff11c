"""Human-readable summaries of a run, printed by the jobs and notebooks."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def segment_report(segments: DataFrame) -> str:
    """One line per segment (its codes added up), by group, largest first."""
    rows = (segments.groupBy("group", "segment")
            .agg(F.sum("customers").alias("customers"), F.sum("share").alias("share"),
                 F.sum("monetary_share").alias("monetary_share"))
            .orderBy("group", F.desc("customers"), "segment")
            .collect())  # one row per segment: a few dozen at most
    width = max([len(r["segment"]) for r in rows] + [7])
    group_width = max([len(r["group"]) for r in rows] + [5])
    lines = [f"{'group':<{group_width}}  {'segment':<{width}}  {'customers':>10}  "
             f"{'share':>6}  {'money':>6}"]
    for r in rows:
        lines.append(f"{r['group']:<{group_width}}  {r['segment']:<{width}}  "
                     f"{r['customers']:>10,}  {r['share']:>6.1%}  "
                     f"{(r['monetary_share'] or 0):>6.1%}")
    return "\n".join(lines)
