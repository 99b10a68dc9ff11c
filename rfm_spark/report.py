"""Human-readable summaries of a run, printed by the jobs and notebooks."""
from __future__ import annotations

import dataclasses

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from rfm_spark.quality import QualityRow
from rfm_spark.rules import CodeEntry


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


NEW, GONE = "(new)", "(gone)"
_CORNER = "from \\ to"


@dataclasses.dataclass(frozen=True)
class TransitionMatrix:
    """Customers by (from value, to value) at one level; `(new)` and `(gone)` last."""
    level: str
    sources: list[str]
    targets: list[str]
    counts: dict[tuple[str, str], int]

    def row_total(self, source: str) -> int:
        return sum(self.counts.get((source, target), 0) for target in self.targets)


def transition_matrix(migrations: DataFrame, level: str) -> TransitionMatrix:
    """The matrix of one level of rfm_migrations rows of one pair of runs."""
    rows = (migrations.where(F.col("level") == level)
            .select("from_value", "to_value", "customers")
            .collect())  # one row per pair of values: (codes + 1) ** 2 at most
    counts = {(r.from_value or NEW, r.to_value or GONE): r.customers for r in rows}

    def ordered(values: set[str], last: str) -> list[str]:
        return sorted(values - {last}) + ([last] if last in values else [])
    return TransitionMatrix(level, ordered({s for s, _ in counts}, NEW),
                            ordered({t for _, t in counts}, GONE), counts)


def transition_report(matrix: TransitionMatrix) -> str:
    """Counts with row totals, rows = earlier run, columns = later run."""
    width = max(len(label) for label in [*matrix.sources, *matrix.targets, _CORNER])
    cells = [max(len(t), 9) for t in matrix.targets]
    lines = ["  ".join([f"{_CORNER:<{width}}", *[f"{t:>{w}}" for t, w in zip(
        matrix.targets, cells)], f"{'total':>10}"])]
    for source in matrix.sources:
        values = [f"{matrix.counts.get((source, t), 0):>{w},}" for t, w in zip(matrix.targets, cells)]
        lines.append("  ".join([f"{source:<{width}}", *values,
                                f"{matrix.row_total(source):>10,}"]))
    return "\n".join(lines)


def code_table_report(table: dict[str, CodeEntry], tsv: bool = False) -> str:
    """Every code of a scheme with what it maps to, for review: aligned text or TSV."""
    attributes = list(next(iter(table.values())).attributes)
    header = ["code", "segment_id", "segment", "group_id", "group", *attributes, "tags",
              "segment_action", "group_action"]
    rows = [[entry.code, entry.segment_id or "", entry.segment, entry.group_id or "",
             entry.group, *[str(value) for value in entry.attributes.values()],
             ", ".join(entry.tags), entry.segment_action or "", entry.group_action or ""]
            for entry in sorted(table.values(), key=lambda e: e.code)]
    if tsv:
        return "\n".join("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row)
                         for row in [header, *rows])
    # Aligned text: empty columns left out, actions (long) last and unpadded.
    keep = [i for i, name in enumerate(header) if i < 5 and name in ("code", "segment", "group")
            or any(row[i] for row in rows)]
    widths = {i: max(len(row[i]) for row in [header, *rows]) for i in keep}
    last = keep[-1]
    return "\n".join("  ".join(row[i] if i == last else row[i].ljust(widths[i]) for i in keep)
                     .rstrip() for row in [header, *rows])


def quality_report(report: list[QualityRow], stores_shown: int = 10) -> str:
    """The data-quality summary: rows and amount per reason, unidentified shares (the
    `stores_shown` worst stores, and every store over its limit), warnings last."""
    lines = [f"{'data quality':<40}  {'rows':>12}  {'amount':>16}  {'share':>6}"]
    stores = sorted((r for r in report if r.scope.startswith("store=")),
                    key=lambda r: -(r.share or 0))
    shown = {id(r) for r in stores if r.warning} | {id(r) for r in stores[:2 * stores_shown]}
    for row in report:
        if row.scope.startswith("store=") and id(row) not in shown:
            continue
        dates = f"  {row.first_date} .. {row.last_date}" if row.first_date else ""
        amount = f"{row.amount:,.2f}" if row.amount is not None else ""
        share = f"{row.share:.1%}" if row.share is not None else ""
        flag = "  WARNING" if row.warning else ""
        lines.append(f"{row.check + ' ' + row.scope:<40}  {row.rows:>12,}  {amount:>16}  "
                     f"{share:>6}{dates}{flag}")
    return "\n".join(lines)
