"""The Databricks notebooks run as plain scripts in local mode; their charts are written
as self-contained plotly pages."""
import runpy

import pytest

from conftest import REPO
from rfm_spark.lakehouse import Lakehouse, read_table

pytestmark = [pytest.mark.e2e, pytest.mark.connect]


def plotly_page(path) -> str:
    """A chart page as `figure_display` writes it: plotly.js inlined, nothing fetched."""
    html = path.read_text()
    assert "Plotly.newPlot(" in html and "<script src=" not in html, path
    return html


def test_the_segment_notebook_names_every_table_a_run_writes():
    from rfm_spark.tables import SEGMENTATION_TABLES
    text = (REPO / "notebooks" / "01_segment_customers.py").read_text()
    assert all(f"`{table.name}`" in text for table in SEGMENTATION_TABLES)


@pytest.fixture(scope="module")
def golden_lake(tmp_path_factory):
    return tmp_path_factory.mktemp("notebooks") / "lake"


def test_segment_notebook_runs_locally(spark, golden, golden_lake, monkeypatch, capsys,
                                       tmp_path):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_INPUT", golden)
    monkeypatch.setenv("RFM_LAKEHOUSE", str(golden_lake))
    monkeypatch.setenv("RFM_AS_OF", "2024-01-10")
    monkeypatch.setenv("RFM_REPORT_DIR", str(tmp_path))
    namespace = runpy.run_path(str(REPO / "notebooks" / "01_segment_customers.py"))
    run_id = namespace["result"].run_id
    assert run_id.startswith("2024-01-10_")
    assert "Regular big spenders" in capsys.readouterr().out
    runs = read_table(spark, Lakehouse(root=str(golden_lake)), "rfm_runs").collect()
    assert [r.customers for r in runs] == [10]
    # The report's charts: the treemap, three histograms, the R x F grid.
    assert sorted(path.name for path in tmp_path.glob("*.html")) == sorted(
        f"{run_id}_{name}.html" for name in ("segments_1", "metrics_1", "metrics_2",
                                             "metrics_3", "grid_1"))
    assert "Regular big spenders" in plotly_page(tmp_path / f"{run_id}_segments_1.html")


def test_data_quality_notebook_shows_the_run_and_its_quarantine(spark, golden_lake,
                                                                monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_LAKEHOUSE", str(golden_lake))
    monkeypatch.setenv("RFM_REPORT_DIR", str(tmp_path))
    namespace = runpy.run_path(str(REPO / "notebooks" / "03_data_quality.py"))
    printed = capsys.readouterr().out
    assert "rows bad_date" in printed and "rows missing_customer_id" in printed
    assert {r.reason for r in namespace["examples"].collect()} == {"bad_date",
                                                                   "missing_customer_id"}
    rejects = plotly_page(tmp_path / f"quality_rejects_{namespace['run_id']}.html")
    assert "bad_date" in rejects and "missing_customer_id" in rejects
    assert (tmp_path / f"quality_unidentified_{namespace['run_id']}.html").exists()


def test_migration_notebook_renders_two_backfilled_runs(cli_backfill, tmp_path, monkeypatch,
                                                        capsys):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_LAKEHOUSE", cli_backfill.lake.root)
    monkeypatch.setenv("RFM_REPORT_DIR", str(tmp_path))
    namespace = runpy.run_path(str(REPO / "notebooks" / "02_migration.py"))
    first, last = cli_backfill.ids
    assert (namespace["from_run"], namespace["to_run"]) == (first, last)
    printed = capsys.readouterr().out
    assert "(new)" in printed and "Active" in printed and "customers_change" in printed
    heatmap = plotly_page(tmp_path / f"migration_group_{first}_{last}.html")
    assert "share of row" in heatmap and "Active" in heatmap
    for chart in (f"migration_segment_{first}_{last}", f"migration_flows_{first}_{last}",
                  "threshold_drift", "fill_group"):
        plotly_page(tmp_path / f"{chart}.html")
