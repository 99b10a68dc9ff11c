"""The command-line jobs end to end on generated data, reading back every Delta table."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, write_yaml

sys.path.insert(0, str(REPO / "jobs"))
import backfill  # noqa: E402
import codes  # noqa: E402
import generate  # noqa: E402
import migrate  # noqa: E402
import segment  # noqa: E402

PYTHON = REPO / ".venv" / "bin" / "python"
SPARK_SUBMIT = REPO / ".venv" / "bin" / "spark-submit"
TABLES = ("rfm_customers", "rfm_segments", "rfm_thresholds", "rfm_runs")


@pytest.fixture(scope="module")
def generated_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated") / "transactions"
    assert generate.main(["--output", str(folder), "--rows", "30000", "--seed", "5"]) == 0
    return str(folder)


def read_back(spark, lake):
    return {table: spark.read.format("delta").load(f"{lake}/{table}") for table in TABLES}


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


def test_spark_submit_form_and_no_task_holds_all_customers(spark, generated_csv, tmp_path):
    """Runs the job as `spark-submit` would on a cluster and reads Spark's event log: no
    task may read (from a shuffle) as many records as there are customers, which is what
    a global sort or an unpartitioned window would do."""
    parquet = str(tmp_path / "parquet")
    spark.read.option("header", True).csv(generated_csv).write.parquet(parquet)
    lake, events = tmp_path / "lake", tmp_path / "events"
    events.mkdir()
    done = subprocess.run(
        [str(SPARK_SUBMIT), "--conf", "spark.eventLog.enabled=true",
         "--conf", "spark.eventLog.compress=false",
         "--conf", f"spark.eventLog.dir={events}", "--conf", "spark.sql.shuffle.partitions=8",
         # AQE would rightly merge partitions this small into one task: keep all 8.
         "--conf", "spark.sql.adaptive.coalescePartitions.enabled=false",
         "jobs/segment.py", "--config", "conf/default.yaml",
         "--input", parquet, "--format", "parquet", "--lakehouse", str(lake)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK_"))})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Leaving" in done.stdout
    tables = read_back(spark, lake)
    run = tables["rfm_runs"].first()
    assert run.input_format == "parquet"
    assert tables["rfm_customers"].count() == run.customers

    lines = [line for path in events.rglob("events_*") if path.is_file()
             for line in path.read_text().splitlines()]
    task_ends = [event for event in map(json.loads, lines)
                 if event["Event"] == "SparkListenerTaskEnd"]
    shuffle_reads = [e["Task Metrics"]["Shuffle Read Metrics"]["Total Records Read"]
                     for e in task_ends if e.get("Task Metrics")]
    assert len(shuffle_reads) > 50 and max(shuffle_reads) > 0
    # Spread over 8 partitions a task reads about a quarter; one holding all reads them all.
    assert max(shuffle_reads) < run.customers / 2, (max(shuffle_reads), run.customers)


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


def test_missing_input_fails_with_a_clear_message(spark, tmp_path, caplog):
    # A local path is checked before Spark starts (exit 2); others when Spark reads them.
    code = segment.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                         str(tmp_path / "missing"), "--lakehouse", str(tmp_path / "lake")])
    assert code == 2
    assert f"{tmp_path / 'missing'}: no input files" in caplog.text


def test_backfill_and_migrate_clis(spark, generated_csv, tmp_path, capsys, caplog):
    lake = str(tmp_path / "lake")
    code = backfill.main(["--config", str(REPO / "conf/default.yaml"), "--input", generated_csv,
                          "--lakehouse", lake, "--start", "2020-08-01", "--end", "2020-08-20",
                          "--every", "9 days"])
    assert code == 0
    printed = capsys.readouterr().out
    ids = [line.split()[1].rstrip(":") for line in printed.splitlines() if line.startswith("run ")]
    assert [i[:10] for i in ids] == ["2020-08-01", "2020-08-10", "2020-08-19"]
    assert f"migrations from {ids[1]}" in printed

    assert migrate.main(["--lakehouse", lake, "--from-run", ids[0], "--to-run", ids[2],
                         "--level", "segment"]) == 0
    printed = capsys.readouterr().out
    assert "VIP" in printed and "(new)" in printed
    pairs = {(r.from_run_id, r.to_run_id) for r in spark.read.format("delta").load(
        f"{lake}/rfm_migrations").select("from_run_id", "to_run_id").distinct().collect()}
    assert pairs == {(ids[0], ids[1]), (ids[1], ids[2]), (ids[0], ids[2])}

    assert migrate.main(["--lakehouse", lake, "--from-run", ids[0], "--to-run", "nope"]) == 2
    assert "no succeeded run 'nope'" in caplog.text
    empty = str(tmp_path / "empty")
    assert migrate.main(["--lakehouse", empty, "--from-run", "a", "--to-run", "b"]) == 2
    assert "rfm_runs: no such Delta table (no run was written here)" in caplog.text
    assert backfill.main(["--config", str(REPO / "conf/default.yaml"), "--lakehouse", lake,
                          "--input", generated_csv, "--start", "2020-08-01",
                          "--end", "2020-09-01", "--every", "fortnight"]) == 2


PRESETS = [["sms27"], ["sms27", "sms27_fixed_frequency"], ["pharmacy_rfma"], ["hm_groups"],
           ["online_retail"], ["classic"]]


def test_every_preset_runs_through_the_segment_job(spark, generated_csv, tmp_path, capsys):
    # Two presets written to one lakehouse (the tables take both presets' columns: warmth,
    # tags, score, a_grade); the others segmented and printed with --dry-run.
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
    assert {"warmth", "warmth_name", "tags", "score", "a_grade"} <= set(customers.columns)


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
