"""The Databricks notebooks run as plain scripts in local mode; their charts are written
as self-contained plotly pages."""
import runpy

import pytest

from conftest import REPO, plotly_page
from rfm_spark.lakehouse import Lakehouse, read_table

pytestmark = [pytest.mark.e2e, pytest.mark.connect]


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
    # The report's charts in one page: the treemap, three histograms, the R x F grid.
    assert [path.name for path in tmp_path.glob("*.html")] == [f"{run_id}_charts.html"]
    assert "Regular big spenders" in plotly_page(tmp_path / f"{run_id}_charts.html", 5)


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
    rejects = plotly_page(tmp_path / f"quality_rejects_{namespace['run_id']}.html", 2)
    assert "Where the rows read went" in rejects  # the report's section 1 chart
    assert "bad_date" in rejects and "missing_customer_id" in rejects
    plotly_page(tmp_path / f"quality_unidentified_{namespace['run_id']}.html", 1)


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
    # Both heatmaps (group, segment) and the flows in one page.
    moves = plotly_page(tmp_path / f"migration_{first}_{last}.html", 3)
    assert "share of row" in moves and "Active" in moves and "Flows between groups" in moves
    drift = plotly_page(tmp_path / "threshold_drift.html", 1)
    # Every metric's panel says its unit, as the report's does.
    assert all(title in drift for title in ("recency (days)", "frequency (orders)",
                                            "monetary (spend)"))
    plotly_page(tmp_path / "fill_group.html", 1)
