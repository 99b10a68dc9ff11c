"""Every chart, as a plotly figure built from small aggregates (never per-customer
points): the HTML report (`rfm_spark.html_report`) and the notebooks display them, and
files open offline (`to_html`, plotly.js inlined). Colours are the Okabe-Ito palette,
safe for colour-blind readers; continuous scales are Cividis and Blues, which are too.
Counts are shown with thousands separators, shares as percentages.

The functions take plain rows (pyspark `Row`s or anything with the same attributes):
no Spark is needed to draw."""
from __future__ import annotations

import html
import itertools
import math
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rfm_spark.aggregates import BELOW_FIRST_EDGE, Bins
from rfm_spark.quality import QualityRow
from rfm_spark.report import GONE, NEW, TransitionMatrix

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
_LAYOUT = {"template": "plotly_white", "font": {"size": 13}, "margin": {"t": 70}}
GREY = "#999999"
# Every chart's toolbar, in the report and the notebooks: no plotly logo, and no "Share
# chart..." button, which would upload the chart's data (customer aggregates) to
# Plotly's cloud.
FIGURE_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
CUT_COLOUR = PALETTE[5]   # vermillion: grade cut points and limits
_INDEX_RANGE = 6          # the treemap's colour scale: x1/64 to x64 the average spend


def _figure(title: str, guide: str, **layout) -> go.Figure:
    """A figure with its title and a one-line reading guide under it."""
    figure = go.Figure()
    figure.update_layout(title={"text": f"{title}<br><sup>{guide}</sup>"}, **_LAYOUT, **layout)
    return figure


def roc_figure(record: dict) -> go.Figure:
    """ROC curves of the models and baselines on the validation date."""
    figure = _figure("ROC on the validation date",
                     "Higher and further left is better; the diagonal is a coin toss.",
                     xaxis_title="false positive rate (share of retained flagged)",
                     yaxis_title="true positive rate (share of churners flagged)")
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random",
                                line={"color": "#999999", "dash": "dot"}))
    for colour, (name, points) in zip(PALETTE, record["roc"].items()):
        auc = record["metrics"].get(name, {}).get("roc_auc", float("nan"))
        figure.add_trace(go.Scatter(x=[p["x"] for p in points], y=[p["y"] for p in points],
                                    mode="lines", name=f"{name} (AUC {auc:.3f})",
                                    line={"color": colour}))
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure


def calibration_figure(record: dict) -> go.Figure:
    """Observed churn rate against the mean predicted probability, per 10% bin."""
    figure = _figure("Calibration on the validation date",
                     "On the diagonal, a predicted 30% churns 30% of the time; marker area: rows.",
                     xaxis_title="mean predicted churn probability",
                     yaxis_title="observed churn rate")
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                                line={"color": "#999999", "dash": "dot"}))
    for colour, (name, bins) in zip(PALETTE, record["calibration"].items()):
        rows = [b["rows"] for b in bins]
        largest = max(rows) if rows else 1
        figure.add_trace(go.Scatter(
            x=[b["x"] for b in bins], y=[b["y"] for b in bins], mode="lines+markers", name=name,
            line={"color": colour},
            marker={"size": [6 + 18 * (n / largest) ** 0.5 for n in rows]},
            customdata=rows, hovertemplate="predicted %{x:.1%}<br>observed %{y:.1%}"
                                           "<br>%{customdata:,} rows"))
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure


def importances_figure(record: dict, model: str, top: int = 15) -> go.Figure:
    """The model's strongest features (GBT importance or standardized coefficient)."""
    found = record["feature_importances"][model]
    ranked = sorted(found.items(), key=lambda item: abs(item[1]))[-top:]
    what = "importance (share of the trees' gain)" if model == "gbt" else \
        "standardized coefficient (+: more churn)"
    figure = _figure(f"What drives churn ({model})",
                     "Longer bars weigh more in the model's prediction.",
                     xaxis_title=what, height=170 + 26 * len(ranked))
    figure.add_trace(go.Bar(x=[v for _, v in ranked], y=[n for n, _ in ranked],
                            orientation="h", marker={"color": PALETTE[0]}))
    return figure


def churn_grid_figure(cells: list) -> go.Figure:
    """Customers per churn x value cell (`churn.summary.grid_cells` rows), coloured by
    the cell's share of the value."""
    churn_bands = list(dict.fromkeys(c.churn_band for c in cells))
    value_bands = list(dict.fromkeys(c.value_band for c in cells))
    total = sum(c.value or 0 for c in cells) or 1
    by_cell = {(c.churn_band, c.value_band): c for c in cells}

    def cell_of(churn, value):
        return by_cell.get((churn, value))
    z = [[(cell_of(ch, v).value or 0) / total if cell_of(ch, v) else None for v in value_bands]
         for ch in churn_bands]
    text = [[f"{cell_of(ch, v).churn_segment}<br>{cell_of(ch, v).customers:,} customers"
             f"<br>{(cell_of(ch, v).value or 0) / total:.1%} of value" if cell_of(ch, v) else ""
             for v in value_bands] for ch in churn_bands]
    figure = _figure("Churn risk x customer value",
                     "Each cell: its customers and its share of the value; act on the top right.",
                     xaxis_title="value band", yaxis_title="churn risk band")
    figure.add_trace(go.Heatmap(z=z, x=value_bands, y=churn_bands, text=text,
                                texttemplate="%{text}", colorscale="Cividis",
                                colorbar={"title": "share of value", "tickformat": ".0%"},
                                hoverinfo="text"))
    return figure


def _colours():
    return itertools.cycle(PALETTE)


def _empty(figure: go.Figure, message: str) -> go.Figure:
    """A chart with nothing to draw says so in its middle."""
    figure.add_annotation(text=message, showarrow=False, xref="paper", yref="paper",
                          x=0.5, y=0.5, font={"size": 15, "color": GREY})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def rows_figure(input_rows: int, valid_rows: int, dropped_by_reason: dict[str, int]
                ) -> go.Figure:
    """Where the rows read went: used, or rejected by their first reason (one bar)."""
    parts = [("used", valid_rows), *sorted(dropped_by_reason.items(), key=lambda kv: -kv[1])]
    figure = _figure("Where the rows read went",
                     f"{input_rows:,} rows read: used, or rejected by the first rule that "
                     "applies (legend: rows and share of rows read).",
                     xaxis_title="rows", barmode="stack", height=300,
                     legend={"orientation": "h", "y": -0.4, "traceorder": "normal"})
    for colour, (name, rows) in zip(_colours(), parts):
        share = rows / input_rows if input_rows else 0.0
        figure.add_trace(go.Bar(x=[rows], y=["rows read"], orientation="h",
                                name=f"{name}: {rows:,} ({share:.1%})", marker={"color": colour},
                                hovertemplate="%{x:,} rows<extra>%{fullData.name}</extra>"))
    figure.update_xaxes(tickformat=",")
    return figure


def segment_treemap_figure(sizes: Sequence) -> go.Figure:
    """Groups and their segments (`aggregates.segment_sizes` rows): area = customers,
    colour = share of the money over share of the customers (what a customer spends
    against the average customer), one scale for groups and segments: a colour by share
    of money alone would repeat the area and saturate every group, which holds the money
    of all its segments."""
    groups: dict[str, list] = {}
    for row in sizes:
        if row.customers:
            groups.setdefault(row.group, []).append(row)
    ids, labels, parents, values, money, share = [], [], [], [], [], []
    for group, members in groups.items():
        ids.append(f"group/{group}")
        labels.append(group)
        parents.append("")
        values.append(sum(m.customers for m in members))
        money.append(sum(m.monetary_share or 0 for m in members))
        share.append(sum(m.share or 0 for m in members))
        for member in members:
            ids.append(f"group/{group}/{member.segment}")
            labels.append(member.segment)
            parents.append(f"group/{group}")
            values.append(member.customers)
            money.append(member.monetary_share or 0)
            share.append(member.share or 0)
    # log2 of the spend index, so that half and double the average sit as far from it;
    # a segment without money is drawn at the bottom of the scale.
    index = [m / s if s else 0.0 for m, s in zip(money, share)]
    colours = [math.log2(max(i, 2.0 ** -_INDEX_RANGE)) for i in index]
    reach = min(_INDEX_RANGE, max([1.0] + [math.ceil(abs(c)) for c in colours]))
    ticks = list(range(-reach, reach + 1))
    figure = _figure("Segments by group",
                     "Area: customers; colour: share of money over share of customers, "
                     "for groups and segments alike (yellow: spends above the average "
                     "customer, x1: the average). Click a group to zoom in.", height=560)
    figure.add_trace(go.Treemap(
        ids=ids, labels=labels, parents=parents, values=values, branchvalues="total",
        customdata=list(zip(share, money, index)),
        marker={"colors": colours, "colorscale": "Cividis", "cmin": -reach, "cmax": reach,
                "colorbar": {"title": "money share /<br>customer share", "tickvals": ticks,
                             "ticktext": [f"x{2 ** t:g}" if t >= 0 else f"x1/{2 ** -t}"
                                          for t in ticks]}},
        texttemplate="<b>%{label}</b><br>%{value:,} customers<br>"
                     "%{customdata[0]:.1%} of customers<br>%{customdata[1]:.1%} of money",
        hovertemplate="<b>%{label}</b><br>%{value:,} customers (%{customdata[0]:.1%})"
                      "<br>%{customdata[1]:.1%} of money: x%{customdata[2]:.2f} the "
                      "average customer's spend<extra></extra>"))
    figure.update_layout(margin={"t": 70, "l": 10, "r": 10, "b": 10})
    return figure


def _number(value: float) -> str:
    """A value as people read it: thousands separators, few decimals."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 10 else f"{value:,.3g}"


def _tickformat(values: Sequence[float]) -> str:
    """A d3 format with thousands separators and no exponent (`~g` writes 12345 as
    1.23e+4): two decimals at most from 1 up, three significant digits below."""
    return ",.2~f" if max([abs(v) for v in values] + [0.0]) >= 1 else ",.3~g"


def _log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Ticks at 1, 2, 5 times powers of ten within [low, high] (positions in log10)."""
    values = [m * 10 ** e for e in range(math.floor(math.log10(low)),
                                          math.ceil(math.log10(high)) + 1) for m in (1, 2, 5)]
    shown = [v for v in values if low <= v <= high] or [low, high]
    return [math.log10(v) for v in shown], [_number(v) for v in shown]


def _position(bins: Bins):
    """Where a value sits on the x axis: log10 on a log axis; with a bin per integer,
    each bar centred on its value."""
    if bins.log:
        return math.log10
    return (lambda v: v - 0.5) if bins.unit else (lambda v: v)


def _cut_positions(cuts: Sequence[float], closed: str, bins: Bins) -> list[float | None]:
    """Where each cut point is drawn: at the boundary between the grades, which for
    integers is the first whole number of the upper grade (a value equal to a `right`
    cut is in the lower grade, to a `left` cut in the upper one); None off a log axis."""
    sides = closed.split(",") if "," in closed else [closed] * len(cuts)
    where = _position(bins)
    boundaries = [(math.floor(cut) + 1 if side == "right" else math.ceil(cut))
                  if bins.integral else cut for cut, side in zip(cuts, sides)]
    return [where(b) if b > 0 or not bins.log else None for b in boundaries]


def _bin_labels(bins: Bins, unit: str) -> list[str]:
    """Each bin's values in words: `7 orders`, `3 to 5 orders`, `0.5 to 0.75 money`."""
    labels = []
    for low, high in zip(bins.edges, bins.edges[1:]):
        if bins.integral:
            top = high - 1
            labels.append(f"{_number(low)} {unit}" if top <= low
                          else f"{_number(low)} to {_number(top)} {unit}")
        else:
            labels.append(f"{_number(low)} to {_number(high)} {unit}")
    return labels


def metric_histogram_figure(metric: str, unit: str, bins: Bins, counts: dict[int, int],
                            cuts: Sequence[float] = (), closed: str = "right") -> go.Figure:
    """Customers per value bin of a metric (`aggregates.histogram` counts by bin), the
    grade cut points as dashed lines. Log-spaced bins are drawn on a log axis; those of
    integers, which hold 1, 2, 3 ... values, are drawn per value (the bin's customers
    over its values), so a wider bin does not stand out as a peak."""
    where = _position(bins)
    lows, highs = [where(e) for e in bins.edges[:-1]], [where(e) for e in bins.edges[1:]]
    x = [(a + b) / 2 for a, b in zip(lows, highs)]
    width = [b - a for a, b in zip(lows, highs)]
    n, labels = [counts.get(i, 0) for i in range(len(lows))], _bin_labels(bins, unit)
    per_value = bins.log and bins.integral
    values = [b - a if per_value else 1 for a, b in zip(bins.edges, bins.edges[1:])]
    if counts.get(BELOW_FIRST_EDGE):  # zero or negative values, left of a log axis
        x, width = [lows[0] - width[0] / 2] + x, [width[0]] + width
        n, labels = [counts[BELOW_FIRST_EDGE]] + n, [f"0 or less {unit}"] + labels
        values = [1] + values
    y = [count / held for count, held in zip(n, values)]
    figure = _figure(f"{metric.capitalize()} ({unit}): customers per "
                     f"{'value' if bins.unit or per_value else 'range of values'}",
                     "Dashed lines: the grade cut points; a value on a line's right is in "
                     "the next grade." if cuts else
                     "No cut points over all customers to draw (graded per partition).",
                     xaxis_title=f"{metric} ({unit}){' (log scale)' if bins.log else ''}",
                     yaxis_title="customers per value" if per_value else "customers",
                     bargap=0.05, showlegend=False, height=380)
    figure.add_trace(go.Bar(x=x, y=y, width=width, customdata=list(zip(labels, n)),
                            name="customers", marker={"color": PALETTE[0]},
                            hovertemplate="%{customdata[0]}<br>%{customdata[1]:,} customers"
                                          "<extra></extra>"))
    top = max(y + [1]) * 1.08
    for number, (cut, position) in enumerate(zip(cuts, _cut_positions(cuts, closed, bins)), 1):
        if position is None:
            continue
        figure.add_trace(go.Scatter(x=[position, position], y=[0, top], mode="lines",
                                    line={"color": CUT_COLOUR, "dash": "dash", "width": 2},
                                    name=f"cut {number}",
                                    hovertemplate=f"cut {number}: {_number(cut)} {unit}"
                                                  "<extra></extra>"))
        figure.add_annotation(x=position, y=top, text=_number(cut), showarrow=False,
                              yanchor="bottom", font={"color": CUT_COLOUR})
    if bins.log:
        tickvals, ticktext = _log_ticks(bins.edges[0], bins.edges[-1])
        figure.update_xaxes(tickvals=tickvals, ticktext=ticktext)
    figure.update_yaxes(tickformat=",", range=[0, top * 1.06])
    return figure


def grade_grid_figure(cells: Sequence, rows: str = "recency", columns: str = "frequency"
                      ) -> go.Figure:
    """Customers per cell of two grades (`aggregates.grade_cells` rows), coloured by the
    cell's mean monetary value."""
    row_grades = sorted({c.row for c in cells})
    column_grades = sorted({c.column for c in cells})
    found = {(c.row, c.column): c for c in cells}
    z = [[found[r, c].mean_monetary if (r, c) in found else None for c in column_grades]
         for r in row_grades]
    text = [[f"{found[r, c].customers:,} customers<br>mean {_number(found[r, c].mean_monetary)}"
             if (r, c) in found else "" for c in column_grades] for r in row_grades]
    figure = _figure(f"{rows.capitalize()} x {columns} grades",
                     "Each cell: its customers; colour: their mean monetary value "
                     "(yellow: highest).", xaxis_title=f"{columns} grade",
                     yaxis_title=f"{rows} grade", height=460)
    figure.add_trace(go.Heatmap(
        z=z, x=[str(g) for g in column_grades], y=[str(g) for g in row_grades], text=text,
        texttemplate="%{text}", colorscale="Cividis", hoverinfo="text",
        colorbar={"title": "mean monetary",
                  "tickformat": _tickformat([v for row in z for v in row if v is not None])}))
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(type="category")
    return figure


def migration_heatmap_figure(matrix: TransitionMatrix, from_run: str, to_run: str
                             ) -> go.Figure:
    """The transition matrix: customers per (earlier value, later value) and their
    share of the row, shaded by that share."""
    z, text = [], []
    for source in matrix.sources:
        total = matrix.row_total(source)
        counts = [matrix.counts.get((source, target), 0) for target in matrix.targets]
        z.append([count / total if total else 0.0 for count in counts])
        text.append([f"{count:,}<br>{count / total:.1%}" if count else "" for count in counts])
    figure = _figure(f"How customers moved ({matrix.level})",
                     f"Rows: {from_run}; columns: {to_run}. Each cell: customers and their "
                     f"share of the row; {NEW} came, {GONE} left.",
                     xaxis_title=f"{matrix.level} in {to_run}",
                     yaxis_title=f"{matrix.level} in {from_run}",
                     height=max(460, 220 + 42 * len(matrix.sources)))
    figure.add_trace(go.Heatmap(z=z, x=matrix.targets, y=matrix.sources, text=text,
                                texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
                                hovertemplate="%{y} to %{x}: %{text}<extra></extra>",
                                colorbar={"title": "share of row", "tickformat": ".0%"}))
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(type="category", tickangle=-30)
    return figure


def migration_sankey_figure(matrix: TransitionMatrix, from_run: str, to_run: str
                            ) -> go.Figure:
    """The same moves as flows from the earlier run (left) to the later one (right)."""
    values = [v for v in dict.fromkeys([*matrix.sources, *matrix.targets]) if v not in (NEW, GONE)]
    colour = {**dict(zip(values, _colours())), NEW: GREY, GONE: GREY}  # one colour per value
    nodes = [*matrix.sources, *matrix.targets]
    links = [(i, len(matrix.sources) + j, matrix.counts.get((s, t), 0))
             for i, s in enumerate(matrix.sources) for j, t in enumerate(matrix.targets)
             if matrix.counts.get((s, t), 0)]
    figure = _figure(f"Flows between {matrix.level}s",
                     f"Left: {from_run}; right: {to_run}. Band width: customers.", height=520)
    figure.add_trace(go.Sankey(
        node={"label": nodes, "color": [colour[n] for n in nodes], "pad": 12,
              "hovertemplate": "%{label}: %{value:,} customers<extra></extra>"},
        link={"source": [s for s, _, _ in links], "target": [t for _, t, _ in links],
              "value": [v for _, _, v in links],
              "color": ["rgba(0, 114, 178, 0.25)"] * len(links),
              "hovertemplate": "%{source.label} to %{target.label}: %{value:,} customers"
                               "<extra></extra>"},
        valueformat=",d"))
    return figure


def fill_dynamics_figure(rows: Sequence, level: str = "group") -> go.Figure:
    """Each value's customers run by run, stacked (`history.fill_dynamics` rows)."""
    dates = sorted({r.as_of_date for r in rows})
    by_value: dict[str, dict] = {}
    for r in rows:
        by_value.setdefault(r.value, {})[r.as_of_date] = r
    figure = _figure(f"How each {level} filled, run by run",
                     f"Customers of each {level} at each as-of date, stacked (hover: their "
                     "share).", xaxis_title="as-of date", yaxis_title="customers",
                     height=420, hovermode="x unified")
    for colour, (value, found) in zip(_colours(), sorted(by_value.items())):
        figure.add_trace(go.Scatter(
            x=dates, y=[found[d].customers if d in found else 0 for d in dates], name=value,
            stackgroup="customers", mode="lines+markers", line={"color": colour},
            customdata=[found[d].share if d in found else 0 for d in dates],
            hovertemplate="%{y:,} customers (%{customdata:.1%})"))
    figure.update_yaxes(tickformat=",")
    if len(dates) <= 12:  # a tick per run while they fit
        figure.update_xaxes(tickvals=dates, tickformat="%Y-%m-%d")
    return figure


def threshold_drift_figure(rows: Sequence, units: dict[str, str]) -> go.Figure:
    """Each grade cut point run by run, one panel per metric (rows: metric, as_of_date,
    cut_points of the whole population)."""
    order = ("recency", "frequency", "monetary", "age")
    metrics = sorted({r.metric for r in rows}, key=lambda m: (m not in order, order.index(m)
                                                               if m in order else 0, m))
    figure = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True,
                           subplot_titles=[f"{m} ({units[m]})" if m in units else m
                                           for m in metrics],
                           vertical_spacing=0.08)
    figure.update_layout(title={"text": "Drift of the grade cut points<br><sup>Each line: "
                                        "one cut point (cut 1 is the lowest value) at each "
                                        "as-of date.</sup>"},
                         **_LAYOUT, height=180 + 200 * len(metrics), showlegend=True)
    for panel, metric in enumerate(metrics, 1):
        found = sorted((r for r in rows if r.metric == metric), key=lambda r: r.as_of_date)
        for number, colour in zip(range(max(len(r.cut_points) for r in found)), _colours()):
            figure.add_trace(go.Scatter(
                x=[r.as_of_date for r in found],
                y=[r.cut_points[number] if number < len(r.cut_points) else None for r in found],
                mode="lines+markers", name=f"cut {number + 1}", legendgroup=f"cut {number + 1}",
                showlegend=panel == 1, line={"color": colour},
                customdata=[_number(r.cut_points[number]) if number < len(r.cut_points)
                            else "" for r in found],  # 12,345, not 1.23e+4
                hovertemplate=f"{metric} cut {number + 1}: %{{customdata}}<extra></extra>"),
                row=panel, col=1)
        figure.update_yaxes(tickformat=",", row=panel, col=1)
    figure.update_xaxes(title_text="as-of date", row=len(metrics), col=1)
    dates = sorted({r.as_of_date for r in rows})
    if len(dates) <= 12:  # a tick per run while they fit
        figure.update_xaxes(tickvals=dates, tickformat="%Y-%m-%d")
    return figure


_SUMMARY_SCOPES = ("read", "used", "rejected", "used_netted_cancellations")
_TOP_LEGEND = {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1.0, "xanchor": "right"}


def reject_reasons_figure(report: Sequence[QualityRow]) -> go.Figure:
    """Rows per reject reason, with their share of the rows read."""
    rejected = sorted((r for r in report if r.check == "rows" and r.scope not in
                       _SUMMARY_SCOPES and r.rows), key=lambda r: r.rows)
    figure = _figure("Rows rejected, by reason",
                     "Each rejected row counts once, under the first rule that applies.",
                     xaxis_title="rows", height=max(260, 140 + 34 * len(rejected)))
    if not rejected:
        return _empty(figure, "No row was rejected.")
    figure.add_trace(go.Bar(
        x=[r.rows for r in rejected], y=[r.scope for r in rejected], orientation="h",
        marker={"color": CUT_COLOUR}, text=[f"{r.rows:,} ({(r.share or 0):.2%})" for r in rejected],
        textposition="auto", customdata=[float(r.amount or 0) for r in rejected],
        hovertemplate="%{y}: %{x:,} rows, amount %{customdata:,.2f}<extra></extra>"))
    figure.update_xaxes(tickformat=",")
    return figure


def unidentified_figure(report: Sequence[QualityRow], shown: int = 30) -> go.Figure:
    """The share of rows without an identified customer: overall and in the `shown`
    stores with the highest share, against the limit (`quality.max_unidentified_share`)."""
    found = [r for r in report if r.check == "unidentified_rows"]
    overall = [r for r in found if r.scope == "all"]
    stores = sorted((r for r in found if r.scope != "all"), key=lambda r: -(r.share or 0))
    bars = list(reversed(overall + stores[:shown]))
    limit = next((r.limit for r in found if r.limit is not None), None)
    more = f" (the {shown} highest of {len(stores):,} stores)" if len(stores) > shown else ""
    figure = _figure("Unidentified rows" + (" per store" if stores else ""),
                     f"Share of rows without an identified customer{more}; dashed: the "
                     "limit a warning starts at.", xaxis_title="share of the scope's rows",
                     height=max(260, 140 + 26 * len(bars)))
    figure.add_trace(go.Bar(
        x=[r.share or 0 for r in bars], y=[r.scope for r in bars], orientation="h",
        marker={"color": [CUT_COLOUR if r.warning else PALETTE[0] for r in bars]},
        customdata=[r.rows for r in bars],
        hovertemplate="%{y}: %{x:.2%} (%{customdata:,} rows)<extra></extra>"))
    if limit is not None:
        figure.add_vline(x=limit, line={"color": CUT_COLOUR, "dash": "dash"},
                         annotation_text=f"limit {limit:.0%}")
    figure.update_xaxes(tickformat=".1%", rangemode="tozero")
    return figure


def _cell_label(row, segments: dict[str, str]) -> str:
    return f"{row.value} {segments[row.value]}" if row.value in segments else str(row.value)


def campaign_response_figure(results: Sequence, segments: dict[str, str], title: str
                             ) -> go.Figure:
    """Test and control response rates per cell (rfm_campaign_results rows of one level
    and window) and the response-rate rule's threshold (source 000: 3%)."""
    labels = [_cell_label(r, segments) for r in results]
    figure = _figure(f"Response per cell: {title}",
                     "Bars: share of each arm that bought in the window; dashed: the rate a "
                     "cell must beat to be worth sending to.", barmode="group",
                     yaxis_title="response rate", height=460, legend=_TOP_LEGEND)
    for arm, colour in (("test", PALETTE[0]), ("control", PALETTE[1])):
        figure.add_trace(go.Bar(
            x=labels, y=[getattr(r, f"{arm}_response_rate") for r in results], name=arm,
            marker={"color": colour},
            customdata=[[getattr(r, f"{arm}_responders"), getattr(r, f"{arm}_customers")]
                        for r in results],
            hovertemplate=f"{arm}: %{{y:.2%}} (%{{customdata[0]:,}} of %{{customdata[1]:,}})"
                          "<extra></extra>"))
    threshold = next((r.min_response for r in results if r.min_response is not None), None)
    if threshold is not None:
        figure.add_hline(y=threshold, line={"color": CUT_COLOUR, "dash": "dash"},
                         annotation_text=f"{threshold:.0%} line",
                         annotation_position="top left")
    figure.update_yaxes(tickformat=".1%", rangemode="tozero")
    return figure


def campaign_lift_figure(results: Sequence, segments: dict[str, str], title: str
                         ) -> go.Figure:
    """Each cell's lift (test minus control response rate) with its 95% interval,
    coloured by the decision, in percentage points: a lift drawn as `+2.0%` would read
    as 2% more than the control's rate."""
    shown = [r for r in results if r.lift is not None]

    def points(value: float | None) -> float | None:
        return None if value is None else 100 * value
    figure = _figure(f"Lift per cell: {title}",
                     "Dot: test minus control response rate; bar: its 95% interval; "
                     "green: send, grey: stop. An interval above 0 is a real effect.",
                     yaxis_title="lift (percentage points)", height=460, legend=_TOP_LEGEND)
    for decision, colour in (("send", PALETTE[2]), ("stop", GREY)):
        rows = [r for r in shown if r.decision == decision]
        figure.add_trace(go.Scatter(
            x=[_cell_label(r, segments) for r in rows], y=[points(r.lift) for r in rows],
            mode="markers", name=decision, marker={"color": colour, "size": 11},
            error_y={"type": "data", "symmetric": False, "color": colour, "thickness": 2,
                     "array": [points((r.lift_ci_high or r.lift) - r.lift) for r in rows],
                     "arrayminus": [points(r.lift - (r.lift_ci_low or r.lift)) for r in rows]},
            customdata=[[points(r.lift_ci_low), points(r.lift_ci_high), r.p_value_adjusted]
                        for r in rows],
            hovertemplate="%{x}: lift %{y:+.2f} points<br>95% interval %{customdata[0]:+.2f} "
                          "to %{customdata[1]:+.2f} points<br>adjusted p %{customdata[2]:.3f}"
                          "<extra></extra>"))
    figure.add_hline(y=0, line={"color": GREY, "dash": "dot"})
    figure.update_yaxes(tickformat="+.1f", ticksuffix=" pp")
    figure.update_xaxes(type="category", categoryorder="array",  # the cells' order
                        categoryarray=[_cell_label(r, segments) for r in shown])
    return figure


def rule_label(row) -> str:
    """`A, B -> C` for a rule row (antecedent and consequent item ids)."""
    return f"{', '.join(row.antecedent)} -> {', '.join(row.consequent)}"


def basket_rules_figure(rules: Sequence, level: str) -> go.Figure:
    """The strongest rules of each level value (rfm_basket_rules rows, a few per value):
    their lift in the value's baskets beside the same rule's lift over everyone's."""
    labels = [f"{r.value}: {rule_label(r)}" for r in rules]
    figure = _figure(f"Strongest cross-sell rules per {level}",
                     "Bar: how many times likelier the consequent is with the antecedent in "
                     "the value's baskets; dot: the same over all baskets (what is specific).",
                     xaxis_title="lift (x the consequent's base rate)",
                     height=max(360, 120 + 26 * len(rules)), legend=_TOP_LEGEND)
    figure.add_trace(go.Bar(
        y=labels, x=[r.lift for r in rules], orientation="h", name="lift in the value",
        marker={"color": PALETTE[0]},
        customdata=[[r.baskets, r.confidence, r.p_value_adjusted] for r in rules],
        hovertemplate="%{y}<br>lift %{x:.1f}, confidence %{customdata[1]:.1%}"
                      "<br>%{customdata[0]:,} baskets, adjusted p %{customdata[2]:.2g}"
                      "<extra></extra>"))
    figure.add_trace(go.Scatter(
        y=labels, x=[r.population_lift for r in rules], mode="markers",
        name="lift over all baskets", marker={"color": PALETTE[1], "size": 10,
                                              "symbol": "diamond"},
        hovertemplate="%{y}<br>lift over all baskets %{x:.1f}<extra></extra>"))
    figure.add_vline(x=1, line={"color": GREY, "dash": "dot"})
    figure.update_yaxes(type="category", categoryorder="array", categoryarray=labels[::-1],
                        automargin=True)
    return figure


def upgrade_steps(rows: Sequence) -> list[tuple[int, int]]:
    """The (from_grade, to_grade) steps from the lowest tier up, whichever end of the
    grades holds the most money."""
    return sorted({(r.from_grade, r.to_grade) for r in rows},
                  key=lambda step: step[0] if step[1] > step[0] else -step[0])


def upgrade_uplift_figure(rows: Sequence) -> go.Figure:
    """Expected uplift per step up the monetary tiers and scenario
    (rfm_upgrade_simulation rows of one run)."""
    steps = upgrade_steps(rows)
    labels = [f"tier {low} -> {high}" for low, high in steps]
    figure = _figure("Upgrade simulation: expected uplift per step",
                     "Assumed conversion x the money the top spenders of a tier lack to reach "
                     "the next; arithmetic on assumed rates, not a measured effect.",
                     barmode="group", xaxis_title="step up the monetary tiers",
                     yaxis_title="expected uplift (money)", legend=_TOP_LEGEND)
    scenarios = list(dict.fromkeys(r.scenario for r in rows))
    for colour, scenario in zip(itertools.cycle(PALETTE), scenarios):
        by_step = {(r.from_grade, r.to_grade): r for r in rows if r.scenario == scenario}
        shown = [by_step.get(step) for step in steps]
        figure.add_trace(go.Bar(
            x=labels, y=[float(r.expected_uplift) if r else None for r in shown],
            name=f"scenario {scenario}", marker={"color": colour},
            customdata=[[r.candidates, r.conversion_rate, r.expected_upgrades, r.uplift_share]
                        if r else [None] * 4 for r in shown],
            hovertemplate="%{x}: %{y:,.0f}<br>%{customdata[0]:,} candidates at "
                          "%{customdata[1]:.0%}: %{customdata[2]:,.0f} upgrades"
                          "<br>%{customdata[3]:.2%} of all money<extra></extra>"))
    figure.update_yaxes(tickformat=",.0f", rangemode="tozero")
    return figure


def to_html(figures: list[go.Figure], title: str) -> str:
    """One self-contained page: plotly.js inlined once, no request leaves the file."""
    parts = [figure.to_html(full_html=False, include_plotlyjs=(index == 0),
                            config=FIGURE_CONFIG)
             for index, figure in enumerate(figures)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            "</title></head>"
            f"<body>{''.join(parts)}</body></html>")
