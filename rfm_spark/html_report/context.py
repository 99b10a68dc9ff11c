"""What every section reads: the run (its rfm_runs row and resolved config) and its
rows of the run tables, read as readers see them (`lakehouse.readers`); and what a
section is."""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Union

import plotly.graph_objects as go
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import lakehouse as lh
from rfm_spark.errors import ConfigError
from rfm_spark.html_report.page import Html
from rfm_spark.registry import METRICS
from rfm_spark.session import Caches

Block = Union[go.Figure, Html]   # what a section shows, in order
_CUSTOMER_COLUMNS = ("recency_days", "tenure_days", "frequency", "frequency_rate", "monetary",
                     "r_grade", "f_grade")  # what the histograms and the grid count


@dataclasses.dataclass(frozen=True)
class Section:
    """A titled part of the report: `blocks` gives its charts and tables, or nothing
    when its data does not exist (then the section is left out)."""
    key: str                                          # its HTML id
    title: str
    guide: str                                        # one line: how to read it
    blocks: Callable[["ReportContext"], list[Block]]


@dataclasses.dataclass
class ReportContext:
    spark: SparkSession
    lakehouse: lh.Lakehouse
    run: lh.RunInfo
    runs: dict[str, lh.RunInfo]       # every succeeded run, for history
    record: dict                      # the run's rfm_runs row
    cache: Caches

    @functools.cached_property
    def config(self) -> dict:
        """The run's resolved config as written in rfm_runs."""
        return yaml.safe_load(self.record["config"]) or {}

    @functools.cached_property
    def customers(self) -> DataFrame:
        """The run's rfm_customers rows (the columns charts use), cached for the report."""
        rows = lh.run_rows(self.spark, self.lakehouse, "rfm_customers", self.run)
        return self.cache(rows.select(*_CUSTOMER_COLUMNS))

    def rows(self, table: str) -> DataFrame:
        """The run's rows of a run table (rfm_segments, rfm_thresholds, rfm_quality)."""
        return lh.run_rows(self.spark, self.lakehouse, table, self.run)

    def table(self, table: str) -> DataFrame:
        """A whole table as readers see it (every run's, campaign's or model's rows)."""
        return lh.read_table(self.spark, self.lakehouse, table)

    def unit(self, metric: str) -> str:
        return metric_unit(self.config, metric)

    def value_column(self, metric: str) -> str:
        return METRICS[metric].value_column_for(
            self.config.get("metrics", {}).get("frequency", "orders"))

    def of_scheme(self, frame: DataFrame) -> DataFrame:
        """Rows of the runs of this run's scheme up to its as-of date (history)."""
        return frame.where((F.col("scheme_sha256") == self.run.scheme_sha256)
                           & (F.col("as_of_date") <= F.lit(self.run.as_of_date)))


def metric_unit(config: dict, metric: str) -> str:
    """What a metric's values count, in words, from a run's resolved config."""
    metrics = config.get("metrics", {})
    if metric == "frequency":
        frequency = metrics.get("frequency", "orders")
        return (f"orders per {metrics.get('rate_interval_days', 21)} days"
                if frequency == "rate" else frequency)
    if metric == "monetary":
        return "spend per order" if metrics.get("monetary") == "mean_order" else "spend"
    return "days"


def report_context(spark: SparkSession, lakehouse: lh.Lakehouse, run_id: str | None,
                   cache: Caches) -> ReportContext:
    """The context of run `run_id`, by default the latest succeeded run (latest as-of
    date, then latest finished); ConfigError when there is none."""
    runs = lh.succeeded_runs(spark, lakehouse)
    if run_id is not None:
        run = lh.succeeded_run(spark, lakehouse, run_id)
    elif runs:
        run = max(runs.values(), key=lambda r: (r.as_of_date, r.finished_at, r.run_id))
    else:
        raise ConfigError(f"{lakehouse.location('rfm_runs')}: no succeeded run to report on")
    record = (lh.read_table(spark, lakehouse, "rfm_runs").where(F.col("run_id") == run.run_id)
              .first())  # one row
    return ReportContext(spark, lakehouse, run, runs, record.asDict(recursive=True), cache)
