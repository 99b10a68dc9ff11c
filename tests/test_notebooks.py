"""The Databricks notebook runs as a plain script in local mode."""
import runpy

from conftest import REPO
from rfm_spark.lakehouse import Lakehouse, read_table


def test_segment_notebook_runs_locally(spark, golden, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_INPUT", golden)
    monkeypatch.setenv("RFM_LAKEHOUSE", str(tmp_path / "lake"))
    monkeypatch.setenv("RFM_AS_OF", "2024-01-10")
    namespace = runpy.run_path(str(REPO / "notebooks" / "01_segment_customers.py"))
    assert namespace["result"].run_id.startswith("2024-01-10_")
    assert "Regular big spenders" in capsys.readouterr().out
    runs = read_table(spark, Lakehouse(root=str(tmp_path / "lake")), "rfm_runs").collect()
    assert [r.customers for r in runs] == [10]


def test_migration_notebook_renders_the_backfilled_runs(backfilled, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_LAKEHOUSE", backfilled.lake.root)
    monkeypatch.setenv("RFM_REPORT_DIR", str(tmp_path))
    namespace = runpy.run_path(str(REPO / "notebooks" / "02_migration.py"))
    first, last = backfilled.results[-2].run_id, backfilled.results[-1].run_id
    assert (namespace["from_run"], namespace["to_run"]) == (first, last)
    printed = capsys.readouterr().out
    assert "(new)" in printed and "Active" in printed and "customers_change" in printed
    heatmap = (tmp_path / f"migration_group_{first}_{last}.html").read_text()
    assert heatmap.startswith("<table") and "%" in heatmap
    assert (tmp_path / f"migration_segment_{first}_{last}.html").exists()
