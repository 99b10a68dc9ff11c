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

UNIDENTIFIED_REASONS = ("missing_customer_id", "unidentified_customer")

QUALITY_SCHEMA = (
    "check string, scope string, rows long, amount decimal(38,8), share double, "
    "`limit` double, warning boolean, first_date date, last_date date"
)


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


def quality_rows(aggregate: DataFrame, has_store: bool, limits: Quality) -> list[QualityRow]:
    """The report of a per (customer, [store], reason) aggregate."""
    by_reason = (aggregate.groupBy("reject_reason")
                 .agg(F.sum("rows").alias("rows"), F.sum("amount").alias("amount"),
                      F.sum("netted_rows").alias("netted_rows"),
                      F.sum("netted_amount").alias("netted_amount"),
                      F.min("first_purchase_date").alias("first"),
                      F.max("last_purchase_date").alias("last"))
                 .collect())  # one row per reason
    rows_read = sum(row.rows for row in by_reason)
    amount_read = sum((row.amount or 0 for row in by_reason), Decimal(0))
    report = [QualityRow("rows", "read", rows_read, amount_read, 1.0 if rows_read else None)]
    for row in sorted(by_reason, key=lambda r: (r.reject_reason is not None, r.reject_reason)):
        scope = row.reject_reason or "used"
        report.append(QualityRow("rows", scope, row.rows, row.amount, _share(row.rows, rows_read),
                                 first_date=row.first, last_date=row.last))
        if row.reject_reason is None and row.netted_rows:
            report.append(QualityRow("rows", "used_netted_cancellations", row.netted_rows,
                                     row.netted_amount, _share(row.netted_rows, rows_read)))
    rejected = sum(row.rows for row in by_reason if row.reject_reason is not None)
    report.append(_limited("rows", "rejected", rejected, rows_read,
                           limits.max_rejected_share,
                           sum((r.amount or 0 for r in by_reason if r.reject_reason), Decimal(0))))
    report += _unidentified(aggregate, has_store, limits)
    if has_store:
        report.append(_multi_store(aggregate, limits))
    return report


def quality_frame(spark: SparkSession, report: list[QualityRow]) -> DataFrame:
    return spark.createDataFrame([dataclasses.astuple(row) for row in report], QUALITY_SCHEMA)


def _unidentified(aggregate: DataFrame, has_store: bool, limits: Quality) -> list[QualityRow]:
    """Unidentified rows and amount, overall and per store, as shares of all rows read."""
    unidentified = F.col("reject_reason").isin(list(UNIDENTIFIED_REASONS))
    totals = [F.sum("rows").alias("rows"), F.sum("amount").alias("amount"),
              F.sum(F.when(unidentified, F.col("rows")).otherwise(0)).alias("unid_rows"),
              F.coalesce(F.sum(F.when(unidentified, F.col("amount"))), F.lit(0))
              .alias("unid_amount")]
    overall = aggregate.agg(*totals).first()
    stores = (aggregate.groupBy("store").agg(*totals).orderBy("store").collect()  # per store
              if has_store else [])
    report = []
    scopes = [("all", overall)] + [(f"store={s.store or '(none)'}", s) for s in stores]
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
