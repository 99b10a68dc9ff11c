"""The sections every run has: the run itself, its segments, its metrics and grades, the
R x F grid, its history (when the scheme has an earlier run) and its data quality."""
from __future__ import annotations

from pyspark.sql import functions as F

from rfm_spark import aggregates as agg, figures, lakehouse as lh
from rfm_spark.history import fill_dynamics, threshold_drift
from rfm_spark.html_report import page
from rfm_spark.html_report.context import Block, ReportContext, Section
from rfm_spark.migration import transitions
from rfm_spark.quality import stored_report, warnings
from rfm_spark.report import transition_matrix

HEATMAP_ROWS = 21  # segments and "(new)": past this, the heatmap is of groups


def run_blocks(ctx: ReportContext) -> list[Block]:
    r = ctx.record
    read = r["input_rows"] or 0

    def of_read(rows: int | None) -> str:
        return f"{page.count(rows)} ({page.percent(rows / read if read and rows else 0.0)})"
    return [
        page.facts([
            ("run", r["run_id"]), ("as-of date", str(r["as_of_date"])),
            ("input", f"{r['input_path']} ({r['input_format']})"),
            ("rows read", page.count(read)), ("rows used", of_read(r["valid_rows"])),
            ("rows rejected", of_read(r["dropped_rows"])),
            ("customers graded", page.count(r["customers"])),
            ("config built from", _sources(r.get("config_sources"))),
            ("grading", _grading(ctx.config)), ("config sha256", r["config_sha256"]),
            ("scheme sha256", r["scheme_sha256"] or ""),
            ("written", f"{r['started_at']:%Y-%m-%d %H:%M:%S} to "
                        f"{r['finished_at']:%H:%M:%S} UTC"),
            ("versions", f"rfm_spark {r['product_version']}, Spark {r['spark_version']}, "
                         f"Delta {r['delta_version'] or 'unknown'}"),
        ]),
        figures.rows_figure(read, r["valid_rows"] or 0, r["dropped_by_reason"] or {}),
        page.details("the resolved config", r["config"]),
    ]


def _sources(sources: list[str] | None) -> str:
    """The presets and files the run's config was layered from, in order; runs written
    before rfm_runs recorded them have none (NULL or no column)."""
    if sources is None:
        return "unknown (written before rfm_runs recorded it; the resolved config is below)"
    return ", ".join(sources) or "the defaults"


def _grading(config: dict) -> str:
    """Each graded metric's method and grades, from the run's resolved config."""
    grading = config.get("grading", {})
    return "; ".join(
        f"{metric}: {spec.get('method')}"
        + (f", {spec['grades']} grades" if spec.get("grades") else "")
        for metric, spec in grading.items()
        if metric in ("recency", "frequency", "monetary", "age") and spec)


def segment_blocks(ctx: ReportContext) -> list[Block]:
    sizes = agg.segment_sizes(ctx.rows("rfm_segments")).collect()  # one row per segment
    actions = [s.segment_action or s.group_action or "" for s in sizes]
    rows = [(s.group, s.segment, s.codes, page.count(s.customers), page.percent(s.share),
             page.percent(s.monetary_share), page.number(s.mean_recency_days, 0),
             page.number(s.mean_frequency, 1), page.number(s.mean_monetary),
             *([action] if any(actions) else []))  # the action, when the rules give any
            for s, action in zip(sizes, actions)]
    return [figures.segment_treemap_figure(sizes),
            page.table(["group", "segment", "codes", "customers", "of customers", "of money",
                        "mean recency (days)", "mean frequency", "mean monetary",
                        *(["action"] if any(actions) else [])],
                       rows, numeric=(3, 4, 5, 6, 7, 8))]


def metric_blocks(ctx: ReportContext) -> list[Block]:
    thresholds = (ctx.rows("rfm_thresholds").where(F.col("grade") == 1)
                  .select("metric", "scope", "cut_points", "closed")
                  .collect())  # one row per metric and scope
    graded = list(dict.fromkeys(t.metric for t in thresholds))
    order = ("recency", "frequency", "monetary", "age")
    blocks: list[Block] = []
    for metric in sorted(graded, key=lambda m: order.index(m) if m in order else len(order)):
        column = ctx.value_column(metric)
        summary = agg.value_summary(ctx.customers, column).first()  # one row
        bins = agg.choose_bins(summary.low, summary.high, summary.positive_low, summary.median,
                               summary.integral)
        if bins is None:
            continue
        counts = {row.bin: row.customers for row in agg.histogram(
            ctx.customers, column, bins).collect()}  # one row per bin: 62 at most
        overall = next((t for t in thresholds if t.metric == metric and not t.scope), None)
        blocks.append(figures.metric_histogram_figure(
            "tenure" if metric == "age" else metric, ctx.unit(metric), bins, counts,
            overall.cut_points if overall else (), overall.closed if overall else "right"))
    return blocks


def grid_blocks(ctx: ReportContext) -> list[Block]:
    cells = agg.grade_cells(ctx.customers).collect()  # one row per R x F cell: 81 at most
    return [figures.grade_grid_figure(cells)] if cells else []


def history_blocks(ctx: ReportContext) -> list[Block]:
    """Shown when the scheme has a run before this one: moves from it, and every run of
    the scheme up to this one."""
    previous = lh.previous_run(ctx.runs, ctx.run.run_id, ctx.run.as_of_date,
                               ctx.run.scheme_sha256)
    if previous is None:
        return []
    moves = _migrations(ctx, previous)
    by_segment, by_group = (transition_matrix(moves, level) for level in ("segment", "group"))
    readable = by_segment if len(by_segment.sources) <= HEATMAP_ROWS else by_group
    runs = ctx.table("rfm_runs")
    fill = (ctx.of_scheme(fill_dynamics(ctx.table("rfm_segments"), runs, "group"))
            .collect())  # one row per run and group
    drift = (ctx.of_scheme(threshold_drift(
        ctx.table("rfm_thresholds").where(F.col("scope") == ""), runs))
        .where(F.col("grade") == 1).select("metric", "as_of_date", "cut_points")
        .collect())  # one row per run and metric
    pair = (previous.run_id, ctx.run.run_id)
    blocks: list[Block] = [figures.migration_heatmap_figure(readable, *pair),
                           figures.migration_sankey_figure(by_group, *pair),
                           figures.fill_dynamics_figure(fill, "group")]
    if drift:
        units = {metric: ctx.unit(metric) for metric in {d.metric for d in drift}}
        blocks.append(figures.threshold_drift_figure(drift, units))
    return blocks


def _migrations(ctx: ReportContext, previous: lh.RunInfo):
    """rfm_migrations rows from the previous run, as stored, or computed when that pair
    was not written (`output.migrate_from: none`)."""
    stored = ctx.table("rfm_migrations").where(
        (F.col("from_run_id") == previous.run_id) & (F.col("to_run_id") == ctx.run.run_id))
    if stored.limit(1).count():
        return stored
    return transitions(lh.run_rows(ctx.spark, ctx.lakehouse, "rfm_customers", previous),
                       ctx.rows("rfm_customers"), (previous.run_id, previous.as_of_date),
                       (ctx.run.run_id, ctx.run.as_of_date))


def quality_blocks(ctx: ReportContext) -> list[Block]:
    report = stored_report(ctx.rows("rfm_quality"))
    if not report:
        return []
    blocks: list[Block] = [page.paragraph(f"Warning: {w}", warning=True)
                           for w in warnings(report)]
    blocks.append(figures.reject_reasons_figure(report))
    unidentified = [r for r in report if r.check == "unidentified_rows"]
    if any(r.scope != "all" or r.rows for r in unidentified):  # per store, or any at all
        blocks.append(figures.unidentified_figure(report))
    return blocks


RUN = Section("run", "The run", "What was read, what was used, and how it was graded.",
              run_blocks)
SEGMENTS = Section("segments", "Segments",
                   "Who the customers are: each segment's size and share of the money, "
                   "and what to send it.", segment_blocks)
METRICS = Section("metrics", "Recency, frequency and money",
                  "How the customers' values spread, and where the grades cut them.",
                  metric_blocks)
GRID = Section("grid", "Recency x frequency",
               "Where the customers sit on the two grades that matter most, and what "
               "they spend.", grid_blocks)
HISTORY = Section("history", "Since the previous run",
                  "How customers moved between segments, how the groups filled and how "
                  "the cut points drifted across runs of the same scheme.", history_blocks)
QUALITY = Section("quality", "Data quality",
                  "What was rejected and why, and where customers could not be identified.",
                  quality_blocks)
