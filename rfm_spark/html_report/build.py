"""The report of a run: its sections in order, each left out when its data does not
exist, assembled into one HTML file that opens offline (`page`), and where it is
written: beside a local lakehouse folder, or in the working folder."""
from __future__ import annotations

import dataclasses
import os
import urllib.parse
from typing import Sequence

import plotly.graph_objects as go
from pyspark.sql import SparkSession

from rfm_spark import __version__, lakehouse as lh
from rfm_spark.errors import ConfigError
from rfm_spark.html_report import page
from rfm_spark.html_report.context import ReportContext, Section, report_context
from rfm_spark.html_report.outcome_sections import BASKET, CAMPAIGNS, CHURN, UPGRADE
from rfm_spark.html_report.run_sections import GRID, HISTORY, METRICS, QUALITY, RUN, SEGMENTS
from rfm_spark.logs import stage
from rfm_spark.session import Caches

# The report's sections, in order.
SECTIONS: tuple[Section, ...] = (RUN, SEGMENTS, METRICS, GRID, HISTORY, QUALITY, CAMPAIGNS,
                                 CHURN, BASKET, UPGRADE)


@dataclasses.dataclass(frozen=True)
class Report:
    run_id: str
    html: str
    sections: tuple[str, ...]   # the keys of the sections shown, in order


def build_report(spark: SparkSession, lakehouse: lh.Lakehouse, run_id: str | None = None,
                 sections: Sequence[Section] = SECTIONS) -> Report:
    """The report of run `run_id` (default: the latest succeeded run) as one HTML page."""
    with stage("report") as counts, Caches(spark) as cache:
        ctx = report_context(spark, lakehouse, run_id, cache)
        shown = []
        for section in sections:
            blocks = section.blocks(ctx)
            if blocks:
                shown.append((section.key, section.title, page.section_html(
                    section.key, section.title, section.guide, blocks)))
        counts.update(run=ctx.run.run_id, sections=len(shown))
    html = page.page(f"RFM report: run {ctx.run.run_id}",
                     f"As of {ctx.run.as_of_date}: {ctx.record['customers']:,} customers "
                     f"from {ctx.record['valid_rows']:,} rows.", shown,
                     f"rfm_spark {__version__}, generated {page.generated_at()} from "
                     f"{lakehouse.location('rfm_*')}.")
    return Report(ctx.run.run_id, html, tuple(key for key, _, _ in shown))


def section_figures(spark: SparkSession, lakehouse: lh.Lakehouse, run_id: str | None,
                    keys: Sequence[str]) -> list[tuple[str, go.Figure]]:
    """The figures of the sections `keys` as the report draws them, named
    `<section>_<n>`: what the notebooks display."""
    found = {section.key: section for section in SECTIONS}
    named = []
    with Caches(spark) as cache:
        ctx: ReportContext = report_context(spark, lakehouse, run_id, cache)
        for key in keys:
            shown = [block for block in found[key].blocks(ctx) if isinstance(block, go.Figure)]
            named += [(f"{key}_{n}", figure) for n, figure in enumerate(shown, 1)]
    return named


def report_path(lakehouse: lh.Lakehouse, run_id: str) -> str:
    """`rfm_report_<run_id>.html` beside the lakehouse folder when that is a folder on
    this machine, else in the working folder (a database, another file system)."""
    name = f"rfm_report_{run_id}.html"
    folder = local_path(lakehouse.root) if lakehouse.root else None
    if folder is None or not os.path.isdir(folder):
        return os.path.abspath(name)
    return os.path.join(os.path.dirname(os.path.abspath(folder).rstrip(os.sep)), name)


def local_path(path: str) -> str | None:
    """A path without a scheme or a `file:` URI as a local path; None otherwise."""
    parsed = urllib.parse.urlparse(path)
    if parsed.scheme == "file":
        return urllib.parse.unquote(parsed.path)
    return path if parsed.scheme == "" else None


def write_report(spark: SparkSession, lakehouse: lh.Lakehouse, run_id: str | None = None,
                 output: str | None = None) -> str:
    """Builds the report and writes it with plain file I/O on this machine (the driver,
    or a Spark Connect client); returns its absolute path."""
    if output is not None and local_path(output) is None:
        raise ConfigError(f"--output {output}: the report is written to a file on this "
                          "machine; give a local path")
    report = build_report(spark, lakehouse, run_id)
    target = os.path.abspath(local_path(output) if output else
                             report_path(lakehouse, report.run_id))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as file:
        file.write(report.html)
    return target
