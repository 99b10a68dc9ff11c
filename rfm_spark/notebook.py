"""What the notebooks in notebooks/ share: widgets that fall back to environment
variables, and display helpers that fall back to text and files outside Databricks."""
from __future__ import annotations

import os
import tempfile
from typing import Callable

from rfm_spark.lakehouse import Lakehouse


def widget_values(defaults: dict[str, str], namespace: dict) -> dict[str, str]:
    """Databricks text widgets with these defaults; elsewhere `RFM_<NAME>` variables."""
    dbutils = namespace.get("dbutils")
    if dbutils is None:
        return {name: os.environ.get(f"RFM_{name.upper()}", default)
                for name, default in defaults.items()}
    for name, default in defaults.items():
        dbutils.widgets.text(name, default)
    return {name: dbutils.widgets.get(name) for name in defaults}


def frame_display(namespace: dict) -> Callable:
    """Databricks' `display`, or `DataFrame.show` without truncation."""
    return namespace.get("display") or (lambda frame: frame.show(40, truncate=False))


def html_display(namespace: dict, what: str = "heatmap") -> Callable[[str, str], None]:
    """Databricks' `displayHTML`, or writing `<name>.html` to `RFM_REPORT_DIR`."""
    display_html = namespace.get("displayHTML")

    def show(html: str, name: str) -> None:
        if display_html is not None:
            display_html(html)
            return
        path = os.path.join(os.environ.get("RFM_REPORT_DIR", tempfile.gettempdir()), f"{name}.html")
        with open(path, "w", encoding="utf-8") as file:
            file.write(html)
        print(f"{what} written to {path}")
    return show


def figure_display(namespace: dict) -> Callable:
    """Shows plotly figures (one, or a list) as one self-contained page (`html_display`):
    plotly.js (4.8 MB) is inlined once per call, so a cell shows its charts in one call;
    Databricks cuts a cell's output past 10 MB by default."""
    show_html = html_display(namespace, "chart")

    def show(figures, name: str) -> None:
        from rfm_spark.figures import to_html
        show_html(to_html(list(figures) if isinstance(figures, (list, tuple)) else [figures],
                          name), name)
    return show


def widget_lakehouse(params: dict[str, str]) -> Lakehouse:
    """The lakehouse the `database` widget names, else the `lakehouse` folder."""
    return (Lakehouse(database=params["database"]) if params["database"]
            else Lakehouse(root=params["lakehouse"]))
