"""The segmentation run: read -> clean -> metrics -> grades -> segments -> write."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import rfm_spark
from rfm_spark import lakehouse as lh
from rfm_spark.clean import flag_rejects
from rfm_spark.config import Clean, Config, grade_counts
from rfm_spark.grading import apply_grades, metric_bins, thresholds_table
from rfm_spark.logs import stage
from rfm_spark.metrics import aggregate_customers, customer_metrics, reject_counts
from rfm_spark.read import InputError, read_source, select_roles, to_transactions
from rfm_spark.segments import assign_segments, code_frame, segment_summary

log = logging.getLogger(__name__)

CUSTOMER_COLUMNS = (
    "run_id", "as_of_date", "customer_id", "first_purchase_date", "last_purchase_date",
    "recency_days", "tenure_days", "frequency", "monetary", "r_grade", "f_grade", "m_grade",
    "segment_code", "segment", "group",
)


@dataclasses.dataclass
class RunResult:
    run_id: str
    as_of: dt.date
    customers: DataFrame        # rfm_customers rows of this run (cached)
    segments: DataFrame         # rfm_segments rows of this run
    thresholds: DataFrame       # rfm_thresholds rows of this run
    input_rows: int
    valid_rows: int
    dropped_by_reason: dict[str, int]
    written_to: lh.Lakehouse | None


def run_segmentation(spark: SparkSession, config: Config, source: str | DataFrame | None = None,
                     *, run_id: str | None = None, write: bool = True) -> RunResult:
    """Segments `source` (a path, a DataFrame in the source's own columns, or by default
    `input.path`) and, when `write` and an output is configured, writes the run to Delta."""
    started_at = lh.utc_now()
    if run_id is not None:
        lh.check_run_id(run_id)
    target = _lakehouse(config) if write else None
    source = config.input.path if source is None else source
    if source is None:
        raise InputError("no input: pass a path or DataFrame, or set input.path")

    with stage("read") as counts:
        raw = (read_source(spark, source, config.input) if isinstance(source, str)
               else select_roles(source, config.input.columns, "the input DataFrame"))
        transactions = to_transactions(raw, config.input.date_format)
        counts["columns"] = ", ".join(raw.columns)

    as_of = config.metrics.as_of
    if as_of is None and config.clean.lookback_days is not None:
        as_of = _last_valid_date(transactions)  # the lookback needs it before cleaning

    with stage("clean + aggregate") as counts:
        flagged = flag_rejects(transactions, config.clean, as_of)
        has_order_id = config.input.columns.order_id is not None
        aggregate = aggregate_customers(flagged, has_order_id).cache()
        by_reason = {row["reject_reason"]: row["rows"]  # one row per reason
                     for row in reject_counts(aggregate).collect()}
        valid_rows = by_reason.pop(None, 0)
        input_rows = valid_rows + sum(by_reason.values())
        counts.update(rows_read=input_rows, rows_used=valid_rows, **by_reason)
    if valid_rows == 0:
        aggregate.unpersist()
        raise InputError(f"{_describe(source)}: no valid transactions "
                         f"(rows read: {input_rows:,}, rejected: {by_reason})")

    if as_of is None:
        as_of = (aggregate.where(F.col("reject_reason").isNull())
                 .agg(F.max("last_purchase_date")).first()[0])
    run_id = run_id or f"{as_of.isoformat()}_{config.sha256[:8]}"
    log.info("run %s, as of %s", run_id, as_of)

    with stage("metrics + grades + segments") as counts:
        metrics = customer_metrics(aggregate, as_of, config.metrics).cache()
        bins = metric_bins(metrics, config.grading)
        for b in bins.values():
            log.info("%s grades (%s): cut points %s", b.metric, b.method, b.cut_points)
        customers = (
            metrics
            .transform(apply_grades, bins)
            .transform(assign_segments, config.segments, grade_counts(config))
            .withColumn("run_id", F.lit(run_id))
            .withColumn("as_of_date", F.lit(as_of))
            .select(*CUSTOMER_COLUMNS)
            .cache()
        )
        customer_count = customers.count()
        metrics.unpersist()
        aggregate.unpersist()
        counts["customers"] = customer_count

    codes = code_frame(spark, config.segments, grade_counts(config))
    segments = segment_summary(customers, codes).transform(_with_run, run_id, as_of)
    thresholds = thresholds_table(customers, bins).transform(_with_run, run_id, as_of)

    if target is not None:
        with stage(f"write {target.location('*')}") as counts:
            lh.write_run(target, run_id, {
                "rfm_customers": customers, "rfm_segments": segments,
                "rfm_thresholds": thresholds,
            }, {
                "run_id": run_id, "as_of_date": as_of, "started_at": started_at,
                "config": config.to_yaml(), "config_sha256": config.sha256,
                "input_path": _describe(source),
                "input_format": config.input.format if isinstance(source, str) else "dataframe",
                "input_rows": input_rows, "valid_rows": valid_rows,
                "dropped_rows": input_rows - valid_rows, "dropped_by_reason": by_reason,
                "customers": customer_count, "product_version": rfm_spark.__version__,
                "spark_version": spark.version, "delta_version": lh.delta_version(spark),
            })
            counts["customers"] = customer_count
    else:
        log.info("no output configured (output.lakehouse / output.database): nothing written")
    return RunResult(run_id, as_of, customers, segments, thresholds, input_rows, valid_rows,
                     by_reason, target)


def _with_run(frame: DataFrame, run_id: str, as_of: dt.date) -> DataFrame:
    return frame.select(F.lit(run_id).alias("run_id"), F.lit(as_of).alias("as_of_date"), "*")


def _lakehouse(config: Config) -> lh.Lakehouse | None:
    output = config.output
    if output.lakehouse is None and output.database is None:
        return None
    return lh.Lakehouse(root=output.lakehouse if output.database is None else None,
                        database=output.database)


def _last_valid_date(transactions: DataFrame) -> dt.date:
    usable = flag_rejects(transactions, Clean(), None).where(F.col("reject_reason").isNull())
    return usable.agg(F.max("purchase_date")).first()[0]


def _describe(source: str | DataFrame) -> str:
    return source if isinstance(source, str) else "<DataFrame>"
