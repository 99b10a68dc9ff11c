"""The Databricks notebook runs as a plain script in local mode."""
import runpy

import pytest

from conftest import REPO
from rfm_spark.lakehouse import Lakehouse, read_table

pytestmark = [pytest.mark.e2e, pytest.mark.connect]


def test_the_segment_notebook_names_every_table_a_run_writes():
    from rfm_spark.tables import SEGMENTATION_TABLES
    text = (REPO / "notebooks" / "01_segment_customers.py").read_text()
    assert all(f"`{table.name}`" in text for table in SEGMENTATION_TABLES)


@pytest.fixture(scope="module")
def golden_lake(tmp_path_factory):
    return tmp_path_factory.mktemp("notebooks") / "lake"


def test_segment_notebook_runs_locally(spark, golden, golden_lake, monkeypatch, capsys):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_INPUT", golden)
    monkeypatch.setenv("RFM_LAKEHOUSE", str(golden_lake))
    monkeypatch.setenv("RFM_AS_OF", "2024-01-10")
    namespace = runpy.run_path(str(REPO / "notebooks" / "01_segment_customers.py"))
    assert namespace["result"].run_id.startswith("2024-01-10_")
    assert "Regular big spenders" in capsys.readouterr().out
    runs = read_table(spark, Lakehouse(root=str(golden_lake)), "rfm_runs").collect()
    assert [r.customers for r in runs] == [10]


def test_data_quality_notebook_shows_the_run_and_its_quarantine(spark, golden_lake,
                                                                monkeypatch, capsys):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_LAKEHOUSE", str(golden_lake))
    namespace = runpy.run_path(str(REPO / "notebooks" / "03_data_quality.py"))
    printed = capsys.readouterr().out
    assert "rows bad_date" in printed and "rows missing_customer_id" in printed
    assert {r.reason for r in namespace["examples"].collect()} == {"bad_date",
                                                                   "missing_customer_id"}


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
    heatmap = (tmp_path / f"migration_group_{first}_{last}.html").read_text()
    assert heatmap.startswith("<table") and "%" in heatmap
    assert (tmp_path / f"migration_segment_{first}_{last}.html").exists()
