"""Every chart, as a plotly figure built from small aggregates (never per-customer
points): notebooks display them, and files open offline (`to_html`, plotly.js inlined).
Colours are the Okabe-Ito palette, safe for colour-blind readers."""
from __future__ import annotations

import plotly.graph_objects as go

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
_LAYOUT = {"template": "plotly_white", "font": {"size": 13}, "margin": {"t": 70}}


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
                     xaxis_title=what, height=120 + 24 * len(ranked))
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


def to_html(figures: list[go.Figure], title: str) -> str:
    """One self-contained page: plotly.js inlined once, no request leaves the file."""
    parts = [figure.to_html(full_html=False, include_plotlyjs=(index == 0),
                            config={"displaylogo": False})
             for index, figure in enumerate(figures)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body>{''.join(parts)}</body></html>")
