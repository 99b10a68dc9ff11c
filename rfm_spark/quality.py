"""Data quality of a run (source 001's overview tab): rows and amount per reason, the
share of unidentified transactions and amount per store, the share of customers buying
in more than one store, the date range, and warnings where a share passes its limit.

Everything is computed from a per (customer, store, reason) aggregate: the run's own
customer aggregate when it already has the store (or no store is mapped), otherwise
`quality_aggregate` of the flagged transactions. The report itself is a few rows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark.config import Quality
from rfm_spark.metrics import MONETARY
from rfm_spark.reasons import UNIDENTIFIED_REASONS
from rfm_spark.tables import ATTEMPT, QUALITY

# The report's columns: rfm_quality's, without the run's.
REPORT_LAYOUT = tuple((name, kind) for name, kind in QUALITY.layout()
                      if name not in ("run_id", "as_of_date", ATTEMPT))


def quality_aggregate(rows: DataFrame, group_by: tuple[str, ...]) -> DataFrame:
    """Per (customer_id, `group_by`, reject_reason): rows, amount, netted rows and amount,
    first and last purchase date; from flagged transactions or `aggregate_daily` days."""
    if "purchases" in rows.columns:  # aggregate_daily rows
        count, bought = F.sum("rows"), F.col("purchases") > 0
        netted_rows, netted_amount = F.sum("netted_rows"), F.sum("netted_amount")
    else:
        count, bought = F.count(F.lit(1)), ~F.col("netted")
        netted_rows = F.count(F.when(F.col("netted"), 1))
        netted_amount = F.sum(F.when(F.col("netted"), F.col("amount")))
    purchase_date = F.when(bought, F.col("purchase_date"))
    return (rows.groupBy("customer_id", *group_by, "reject_reason")
            .agg(count.alias("rows"), F.sum("amount").cast(MONETARY).alias("amount"),
                 netted_rows.cast("long").alias("netted_rows"),
                 netted_amount.cast(MONETARY).alias("netted_amount"),
                 F.min(purchase_date).alias("first_purchase_date"),
                 F.max(purchase_date).alias("last_purchase_date")))


@dataclasses.dataclass(frozen=True)
class QualityRow:
    check: str
    scope: str
    rows: int
    amount: Decimal | None = None
    share: float | None = None
    limit: float | None = None
    warning: bool = False
    first_date: dt.date | None = None
    last_date: dt.date | None = None


@dataclasses.dataclass(frozen=True)
class ReasonTotal:
    """One reject reason's rows (None: the rows used) in the run's aggregate."""
    reason: str | None
    rows: int
    amount: Decimal | None
    netted_rows: int
    netted_amount: Decimal | None
    first: dt.date | None
    last: dt.date | None


def reason_totals(aggregate: DataFrame) -> list[ReasonTotal]:
    """Rows, amount, netted cancellations and date range per reason, in one small job:
    the run's counts, the report's rows and the last purchase date all come from it."""
    rows = (aggregate.groupBy("reject_reason")
            .agg(F.sum("rows"), F.sum("amount"), F.sum("netted_rows"), F.sum("netted_amount"),
                 F.min("first_purchase_date"), F.max("last_purchase_date"))
            .collect())  # one row per reason
    return sorted((ReasonTotal(*row) for row in rows),
                  key=lambda total: (total.reason is not None, total.reason or ""))


def quality_rows(totals: list[ReasonTotal], stores: DataFrame | None, limits: Quality
                 ) -> list[QualityRow]:
    """The report: `totals` per reason, and, when a store is mapped, `stores`, an
    aggregate per (customer, store, reason)."""
    rows_read = sum(total.rows for total in totals)
    amount_read = sum((total.amount or 0 for total in totals), Decimal(0))
    report = [QualityRow("rows", "read", rows_read, amount_read, 1.0 if rows_read else None)]
    for total in totals:
        report.append(QualityRow("rows", total.reason or "used", total.rows, total.amount,
                                 _share(total.rows, rows_read), first_date=total.first,
                                 last_date=total.last))
        if total.reason is None and total.netted_rows:
            report.append(QualityRow("rows", "used_netted_cancellations", total.netted_rows,
                                     total.netted_amount, _share(total.netted_rows, rows_read)))
    rejected = [total for total in totals if total.reason is not None]
    report.append(_limited("rows", "rejected", sum(t.rows for t in rejected), rows_read,
                           limits.max_rejected_share,
                           sum((t.amount or 0 for t in rejected), Decimal(0))))
    unidentified = [total for total in totals if total.reason in UNIDENTIFIED_REASONS]
    overall = _Scope(rows_read, amount_read, sum(t.rows for t in unidentified),
                     sum((t.amount or 0 for t in unidentified), Decimal(0)))
    report += _unidentified([("all", overall)] + (_per_store(stores) if stores else []), limits)
    if stores is not None:
        report.append(_multi_store(stores, limits))
    return report


def quality_frame(spark: SparkSession, report: list[QualityRow]) -> DataFrame:
    return spark.createDataFrame([dataclasses.astuple(row) for row in report],
                                 QUALITY.ddl(REPORT_LAYOUT))


@dataclasses.dataclass(frozen=True)
class _Scope:
    rows: int
    amount: Decimal | None
    unid_rows: int
    unid_amount: Decimal


def _per_store(stores: DataFrame) -> list[tuple[str, _Scope]]:
    unidentified = F.col("reject_reason").isin(list(UNIDENTIFIED_REASONS))
    rows = (stores.groupBy("store")
            .agg(F.sum("rows"), F.sum("amount"),
                 F.sum(F.when(unidentified, F.col("rows")).otherwise(0)),
                 F.coalesce(F.sum(F.when(unidentified, F.col("amount"))), F.lit(0)))
            .orderBy("store").collect())  # one row per store
    return [(f"store={row[0] or '(none)'}", _Scope(*row[1:])) for row in rows]


def _unidentified(scopes: list[tuple[str, _Scope]], limits: Quality) -> list[QualityRow]:
    """Unidentified rows and amount, overall and per store, as shares of the scope's."""
    report = []
    for scope, row in scopes:
        report.append(_limited("unidentified_rows", scope, row.unid_rows, row.rows,
                               limits.max_unidentified_share, row.unid_amount))
        report.append(_limited("unidentified_amount", scope, row.unid_rows,
                               row.amount, limits.max_unidentified_share, row.unid_amount,
                               numerator=row.unid_amount))
    return report


def _multi_store(aggregate: DataFrame, limits: Quality) -> QualityRow:
    per_customer = (aggregate.where(F.col("reject_reason").isNull())
                    .groupBy("customer_id").agg(F.count_distinct("store").alias("stores")))
    counts = per_customer.agg(F.count(F.lit(1)).alias("customers"),
                              F.count(F.when(F.col("stores") > 1, 1)).alias("multi")).first()
    return _limited("multi_store_customers", "all", counts.multi, counts.customers,
                    limits.max_multi_store_share)


def _limited(check: str, scope: str, rows: int, total, limit: float,
             amount: Decimal | None = None, numerator=None) -> QualityRow:
    share = _share(rows if numerator is None else numerator, total)
    return QualityRow(check, scope, rows, amount, share, limit,
                      share is not None and share > limit)


def _share(part, whole) -> float | None:
    if not whole or part is None:
        return None
    return float(Decimal(part) / Decimal(whole))


def warnings(report: list[QualityRow]) -> list[str]:
    return [f"{row.check} ({row.scope}): {row.share:.1%} is over the limit of {row.limit:.1%}"
            for row in report if row.warning]


def stored_report(quality: DataFrame) -> list[QualityRow]:
    """One run's rfm_quality rows back as the report (a few dozen rows)."""
    fields = [field.name for field in dataclasses.fields(QualityRow)]
    rows = quality.select(*fields).collect()  # one run's report: a few rows per store
    return sorted((QualityRow(*row) for row in rows), key=_report_order)


def _report_order(row: QualityRow) -> tuple:
    checks = ("rows", "customers", "unidentified_rows", "unidentified_amount",
              "multi_store_customers")
    first = ("read", "used", "all", "graded")
    return (checks.index(row.check) if row.check in checks else len(checks),
            row.scope not in first, first.index(row.scope) if row.scope in first else 0,
            row.scope)
