"""The command-line jobs end to end on generated data, reading back every Delta table."""
import os
import subprocess

import pytest

from conftest import CONNECT, REPO, write_yaml

from rfm_spark.jobs import backfill, codes, migrate, segment
from rfm_spark.lakehouse import Lakehouse, read_table
from rfm_spark.tables import UPGRADE_SIMULATION

PYTHON = REPO / ".venv" / "bin" / "python"
SPARK_SUBMIT = REPO / ".venv" / "bin" / "spark-submit"
TABLES = ("rfm_customers", "rfm_segments", "rfm_thresholds", "rfm_runs")

pytestmark = pytest.mark.e2e


def read_back(spark, lake):
    return {table: spark.read.format("delta").load(f"{lake}/{table}") for table in TABLES}


@pytest.mark.connect
def test_segment_cli_writes_all_tables(spark, generated_csv, tmp_path, capsys):
    lake = tmp_path / "lake"
    code = segment.main(["--config", str(REPO / "conf/default.yaml"), "--input", generated_csv,
                         "--lakehouse", str(lake), "--as-of", "2020-06-30", "--run-id", "cli",
                         "--set", "metrics.frequency=days"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "run cli (as of 2020-06-30)" in printed and "VIP" in printed
    tables = read_back(spark, lake)
    run = tables["rfm_runs"].first()
    assert (run.run_id, run.status, str(run.as_of_date)) == ("cli", "succeeded", "2020-06-30")
    assert run.input_rows == run.valid_rows + run.dropped_rows
    assert run.dropped_by_reason["after_as_of"] == run.dropped_rows > 0
    assert "frequency: days" in run.config
    customers = tables["rfm_customers"]
    assert customers.count() == run.customers > 0
    assert customers.where("last_purchase_date > '2020-06-30'").count() == 0
    assert tables["rfm_segments"].groupBy().sum("customers").first()[0] == run.customers
    assert tables["rfm_thresholds"].where("metric = 'recency'").groupBy().sum(
        "customers").first()[0] == run.customers


@pytest.mark.connect
@pytest.mark.skipif(not CONNECT, reason="the Connect lane's server is the job's Spark")
def test_a_job_runs_as_a_spark_connect_client_without_a_jvm(spark, golden, tmp_path):
    lake = tmp_path / "lake"
    done = subprocess.run(
        [str(REPO / ".venv/bin/rfm-segment"), "--config", "preset:default", "--input", golden,
         "--lakehouse", str(lake), "--run-id", "remote"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "SPARK_REMOTE": os.environ["SPARK_REMOTE"]})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "run remote (as of 2024-01-10)" in done.stdout
    assert "SparkContext" not in done.stderr  # a client: no JVM of its own
    assert read_table(spark, Lakehouse(root=str(lake)), "rfm_customers").count() == 10


def test_config_errors_stop_before_spark_starts(tmp_path):
    bad = write_yaml(tmp_path / "bad.yaml", """
        metrics:
          frequncy: days
    """)
    done = subprocess.run(
        [str(PYTHON), "jobs/segment.py", "--config", "conf/default.yaml", "--config", str(bad),
         "--input", "nowhere", "--lakehouse", str(tmp_path / "lake")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"{bad}: unknown key 'metrics.frequncy'" in done.stderr
    assert "log4j" not in done.stderr and "SparkContext" not in done.stderr  # no JVM started
    assert not (tmp_path / "lake").exists()


@pytest.mark.connect
def test_missing_input_fails_with_a_clear_message(spark, tmp_path, caplog):
    # A local path is checked before Spark starts (exit 2); others when Spark reads them.
    code = segment.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                         str(tmp_path / "missing"), "--lakehouse", str(tmp_path / "lake")])
    assert code == 2
    assert f"{tmp_path / 'missing'}: no input files" in caplog.text


@pytest.mark.connect
def test_backfill_and_migrate_clis(spark, generated_csv, cli_backfill, tmp_path, capsys,
                                   caplog):
    lake, ids = cli_backfill.lake.root, cli_backfill.ids
    assert [i[:10] for i in ids] == ["2020-08-01", "2020-08-10"]
    assert f"migrations from {ids[0]}" in cli_backfill.printed

    # Written again, at every level, replacing the pair's rows in one commit.
    assert migrate.main(["--lakehouse", lake, "--from-run", ids[0], "--to-run", ids[1],
                         "--level", "segment"]) == 0
    printed = capsys.readouterr().out
    assert "VIP" in printed and "(new)" in printed
    stored = read_table(spark, Lakehouse(root=lake), "rfm_migrations")
    assert {(r.from_run_id, r.to_run_id) for r in stored.select(
        "from_run_id", "to_run_id").distinct().collect()} == {(ids[0], ids[1])}
    assert stored.count() == spark.read.format("delta").load(f"{lake}/rfm_migrations").count()

    assert migrate.main(["--lakehouse", lake, "--from-run", ids[0], "--to-run", "nope"]) == 2
    assert "no succeeded run 'nope'" in caplog.text
    empty = str(tmp_path / "empty")
    assert migrate.main(["--lakehouse", empty, "--from-run", "a", "--to-run", "b"]) == 2
    assert "rfm_runs: no such Delta table (no run was written here)" in caplog.text
    assert backfill.main(["--config", str(REPO / "conf/default.yaml"), "--lakehouse", lake,
                          "--input", generated_csv, "--start", "2020-08-01",
                          "--end", "2020-09-01", "--every", "fortnight"]) == 2


# sms27 alone is also the base of sms27 + its fixed frequency bins.
PRESETS = [["sms27", "sms27_fixed_frequency"], ["pharmacy_rfma"], ["hm_groups"],
           ["online_retail"], ["classic"]]


def test_every_preset_runs_through_the_segment_job(spark, generated_csv, tmp_path, capsys):
    # Two presets written (pharmacy_rfma's tables take its columns: warmth, a_grade;
    # online_retail's run simulates source 003's upgrade); the others segmented and
    # printed with --dry-run.
    from rfm_spark.config import code_table, load_config
    lake = tmp_path / "lake"
    written = {"pharmacy_rfma", "online_retail"}
    for names in PRESETS:
        configs = [str(REPO / "conf/default.yaml")] + [
            str(REPO / f"conf/presets/{name}.yaml") for name in names]
        arguments = [a for c in configs for a in ("--config", c)] + ["--input", generated_csv]
        run_id = "_".join(names)
        output = (["--lakehouse", str(lake)] if run_id in written else ["--dry-run"])
        assert segment.main(arguments + output + ["--run-id", run_id]) == 0, names
        printed = capsys.readouterr().out
        table = code_table(load_config(configs))
        assert f"run {run_id} " in printed
        assert any(entry.segment in printed for entry in table.values()), names
        assert ("tables: " in printed) == (run_id in written)
        assert ("upgrade simulation" in printed) == (run_id == "online_retail")
    customers = spark.read.format("delta").load(f"{lake}/rfm_customers")
    runs = {r.run_id: r for r in spark.read.format("delta").load(f"{lake}/rfm_runs").collect()}
    assert set(runs) == written and runs["pharmacy_rfma"].churn_period_days == 105
    for run_id in written:
        allowed = {(code, e.segment, e.group) for code, e in code_table(load_config(
            [REPO / "conf/default.yaml", REPO / f"conf/presets/{run_id}.yaml"])).items()}
        mine = customers.where(customers.run_id == run_id)
        held = {(r.segment_code, r.segment, r.group) for r in
                mine.select("segment_code", "segment", "group").distinct().collect()}
        assert held and held <= allowed, run_id
        assert mine.count() == runs[run_id].customers
    assert {"warmth", "warmth_name", "a_grade"} <= set(customers.columns)
    pharmacy = customers.where(customers.run_id == "pharmacy_rfma")
    assert pharmacy.where("a_grade IS NULL OR warmth IS NULL").count() == 0
    # Source 003's scenario: C -> B at 0, B -> A at 80%, A -> S at 50% (M 4 = best).
    upgrade = spark.read.format("delta").load(f"{lake}/rfm_upgrade_simulation")
    assert [(f.name, f.dataType.simpleString()) for f in upgrade.schema.fields] == list(
        UPGRADE_SIMULATION.layout())
    steps = sorted((r.from_grade, r.to_grade, r.conversion_rate) for r in upgrade.collect())
    assert steps == [(1, 2, 0.0), (2, 3, 0.8), (3, 4, 0.5)]


def test_codes_cli_prints_every_code_and_names_coverage_errors(tmp_path, capsys):
    assert codes.main(["--config", str(REPO / "conf/default.yaml"), "--config",
                       str(REPO / "conf/presets/pharmacy_rfma.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("108 codes (R F M A, 1 = best), 16 segments, 9 groups")
    row = next(line for line in lines if line.startswith("4111 "))
    assert "ушедший VIP" in row and "410" in row
    assert codes.main(["--config", str(REPO / "conf/default.yaml"), "--tsv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split("\t")[:5] == ["111", "", "VIP", "",
                                                                       "Active"]
    gap = write_yaml(tmp_path / "gap.yaml", """
        segments:
          - {name: Top, group: A, codes: ["1**"]}
    """)
    assert codes.main(["--config", str(REPO / "conf/default.yaml"), "--config", str(gap)]) == 2
    assert "codes covered by no segment: 211, 212" in capsys.readouterr().err
