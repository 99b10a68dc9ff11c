"""The report's HTML: one page that opens offline. plotly.js is inlined once in the
head; each figure is a div and a call to it; the styles use the reader's own fonts; no
address outside the file is referred to. Text from the data is escaped."""
from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from typing import Sequence

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from rfm_spark.figures import FIGURE_CONFIG

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 0; background: #f5f6f8; color: #1d2430; }
header, main { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0 0 12px; color: #4a5566; }
nav a { margin-right: 14px; color: #0072B2; text-decoration: none; }
section { background: #fff; border-radius: 8px; margin: 18px 0; padding: 8px 24px 20px;
          box-shadow: 0 1px 3px rgba(0, 0, 0, 0.08); }
section h2 { margin: 14px 0 2px; font-size: 21px; }
p.guide { margin: 0 0 10px; color: #4a5566; }
div.figure { margin: 8px 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6eb; text-align: left;
         vertical-align: top; }
th { background: #f0f2f5; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.warning { color: #D55E00; font-weight: 600; }
pre { background: #f0f2f5; padding: 10px; overflow-x: auto; font-size: 12px; }
footer { max-width: 1180px; margin: 0 auto; padding: 8px 24px 32px; color: #4a5566;
         font-size: 13px; }
"""


class Html(str):
    """Markup built here from escaped parts: placed in the page as it is."""


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def percent(value: float | None, digits: int = 1) -> str:
    # Rounded first, so that -1e-17 reads 0.0%, not -0.0%.
    return "" if value is None else f"{round(value, digits + 2) + 0.0:.{digits}%}"


def number(value: float | Decimal | None, digits: int = 2) -> str:
    return "" if value is None else f"{float(value):,.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence], numeric: Sequence[int] = ()
          ) -> Html:
    """A table of already formatted cells; `numeric` columns are right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td class='number'>{html.escape(str(cell))}</td>" if i in numeric
                         else f"<td>{html.escape(str(cell))}</td>"
                         for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def facts(pairs: Sequence[tuple[str, str]]) -> Html:
    """A two-column table of labelled values."""
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in pairs)
    return Html(f"<table>{rows}</table>")


def paragraph(text: str, warning: bool = False) -> Html:
    style = " style='color: #D55E00; font-weight: 600'" if warning else ""
    return Html(f"<p{style}>{html.escape(text)}</p>")


def details(summary: str, text: str) -> Html:
    """A folded block of preformatted text (the resolved config)."""
    return Html(f"<details><summary>{html.escape(summary)}</summary>"
                f"<pre>{html.escape(text)}</pre></details>")


def figure_div(figure: go.Figure, div_id: str) -> Html:
    return Html("<div class='figure'>" + figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config=FIGURE_CONFIG) + "</div>")


def section_html(key: str, title: str, guide: str, blocks: Sequence) -> Html:
    """A section: its title, its reading guide, then its figures and tables in order."""
    parts = [figure_div(block, f"{key}-{index}") if isinstance(block, go.Figure) else block
             for index, block in enumerate(blocks, 1)]
    return Html(f"<section id='{html.escape(key)}' data-section='{html.escape(key)}'>"
                f"<h2>{html.escape(title)}</h2><p class='guide'>{html.escape(guide)}</p>"
                f"{''.join(parts)}</section>")


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, Html]],
         footer: str) -> str:
    """The whole file: `sections` are (key, title, section_html)."""
    links = "".join(f"<a href='#{html.escape(key)}'>{html.escape(name)}</a>"
                    for key, name, _ in sections)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>"
            f"<nav>{links}</nav></header>"
            f"<main>{''.join(body for _, _, body in sections)}</main>"
            f"<footer>{html.escape(footer)}</footer></body></html>")


def generated_at() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
