"""Runs written to real Delta tables: re-runs, failures half-way, two jobs at once,
changed input, the metastore form."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pyspark.sql import functions as F

from conftest import REPO, history
from rfm_spark import load_config, run_segmentation
from rfm_spark.errors import ConfigError, RunConflictError
from rfm_spark.lakehouse import Lakehouse, RunWrite, claim_holder, read_table, write_run
from rfm_spark.names import check_run_id
from rfm_spark.steps import layout
from rfm_spark.tables import RUN_TABLES

ROWS_OF_A_GOLDEN_RUN = {"rfm_customers": 10, "rfm_segments": 27, "rfm_thresholds": 9}

pytestmark = pytest.mark.e2e


def config(**output):
    key, value = next(iter(output.items()))
    return load_config([REPO / "conf/default.yaml"], [f"output.{key}={value}"])


@pytest.mark.connect
def test_rerun_of_a_run_id_replaces_it_in_one_commit_per_table(spark, golden, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="r1")
    run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="r2")
    run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="r1")

    customers = read_table(spark, lake, "rfm_customers")
    assert {r.run_id: r["count"] for r in customers.groupBy("run_id").count().collect()} == {
        "r1": 10, "r2": 10}
    assert read_table(spark, lake, "rfm_segments").where("run_id = 'r1'").count() == 27
    assert read_table(spark, lake, "rfm_thresholds").where("run_id = 'r1'").count() == 9
    runs = lake.read(spark, "rfm_runs").orderBy("run_id").collect()
    assert [(r.run_id, r.status) for r in runs] == [("r1", "succeeded"), ("r2", "succeeded")]
    assert runs[0].input_rows == 21 and runs[0].dropped_by_reason == {
        "bad_date": 1, "missing_customer_id": 1}
    assert runs[0].config_sha256 and "segments:" in runs[0].config
    assert runs[0].delta_version and runs[0].spark_version == spark.version
    fingerprint = runs[0].input_fingerprint
    assert fingerprint.startswith("sha256:") and " 1 file, 393 bytes, newest " in fingerprint
    assert runs[0].input_fingerprint == runs[1].input_fingerprint  # same file, unchanged
    assert lake.read(spark, "rfm_customers").count() == 20  # the replaced attempt is deleted
    operations = [r.operation for r in history(spark, lake.location("rfm_customers"))]
    # Created from the contract, then one commit per run, the re-run included; then the
    # re-run deletes the attempt it replaced.
    assert operations == ["CREATE TABLE", "WRITE", "WRITE", "WRITE", "DELETE"]


def test_a_run_failing_between_table_writes_is_never_visible(spark, golden, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    good = run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="x")
    # Re-run "x", failing after rfm_customers and rfm_segments are written.
    broken = good.thresholds.withColumn("grade", F.raise_error(F.lit("disk full")).cast("int"))
    with pytest.raises(Exception, match="disk full"):
        write_run(spark, lake, run_write(good.customers.limit(3), good.segments, broken,
                                         good.as_of))

    status = lake.read(spark, "rfm_runs").where("run_id = 'x'").collect()
    assert [(r.status, "disk full" in r.error) for r in status] == [("failed", True)]
    for table in (*RUN_TABLES, "rfm_runs"):
        assert read_table(spark, lake, table).count() == 0, table
    # The failed attempt deleted its rows; the first attempt's exist, invisible...
    assert lake.read(spark, "rfm_customers").count() == 10

    run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="x")
    assert_one_copy_of_run_x(spark, lake)  # ...until the re-run succeeds and deletes them


def run_write(customers, segments, thresholds, as_of):
    """An attempt at run x writing the given frames (rfm_runs' record mostly empty)."""
    tables = {"rfm_customers": customers, "rfm_segments": segments,
              "rfm_thresholds": thresholds}
    laid = {name: layout(config(lakehouse="unused"), name, with_attempt=True) for name in tables}
    return RunWrite("x", {"as_of_date": as_of, "config": "", "customers": 10}, tables, laid)


def assert_one_copy_of_run_x(spark, lake):
    """Run x is visible, stored exactly once, and only as its succeeded attempt."""
    [run] = lake.read(spark, "rfm_runs").collect()
    assert (run.run_id, run.status) == ("x", "succeeded")
    for table, rows in ROWS_OF_A_GOLDEN_RUN.items():
        assert read_table(spark, lake, table).count() == rows, table
        stored = lake.read(spark, table)
        assert stored.count() == rows, table
        assert {r.attempt_id for r in stored.select("attempt_id").distinct().collect()} == {
            run.attempt_id}, table


def test_two_runs_started_together_into_a_new_lakehouse_both_succeed(spark, golden, tmp_path):
    # Both jobs create every table at once: one of each pair of first commits conflicts.
    lake = Lakehouse(root=str(tmp_path / "lake"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda run_id: run_segmentation(
            spark, config(lakehouse=lake.root), golden, run_id=run_id), ("a", "b")))

    assert [r.customer_count for r in results] == [10, 10]
    assert sorted((r.run_id, r.status) for r in lake.read(spark, "rfm_runs").collect()) == [
        ("a", "succeeded"), ("b", "succeeded")]
    for table, rows in ROWS_OF_A_GOLDEN_RUN.items():
        by_run = read_table(spark, lake, table).groupBy("run_id").count().collect()
        assert {r.run_id: r["count"] for r in by_run} == {"a": rows, "b": rows}, table
        assert lake.read(spark, table).count() == 2 * rows, table


def test_the_same_run_id_twice_at_once_the_later_claim_wins(spark, golden, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    computed = run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="x",
                                write=False)
    # The first job writes all its tables, then waits before its commit while a second
    # job runs the same id from start to end: the second claimed last, so it wins.
    first_wrote_all, second_done = threading.Event(), threading.Event()

    def wait_for_the_second(attempt_id):
        first_wrote_all.set()
        assert second_done.wait(timeout=600)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(write_run, spark, lake, run_write(
            computed.customers, computed.segments, computed.thresholds, computed.as_of),
            before_success=wait_for_the_second)
        assert first_wrote_all.wait(timeout=600) or first.result()
        try:
            run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="x")
        finally:
            second_done.set()
        with pytest.raises(RunConflictError, match=(
                r"run x was taken over by another job \(attempt [0-9a-f]{32}\) while this one "
                r"\(attempt [0-9a-f]{32}\) was writing; this attempt's results were discarded")):
            first.result(timeout=600)

    assert claim_holder(spark, lake, "x") in str(first.exception())
    assert_one_copy_of_run_x(spark, lake)


def test_a_run_id_is_not_rewritten_from_other_input_unless_forced(spark, golden, tmp_path,
                                                                   caplog):
    from rfm_spark.jobs import segment

    lake = Lakehouse(root=str(tmp_path / "lake"))
    run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="f")
    [written] = lake.read(spark, "rfm_runs").collect()
    with open(golden, "a") as csv:
        csv.write("2024-01-10,c10,40\n")  # a new customer

    code = segment.main(["--config", str(REPO / "conf/default.yaml"), "--input", golden,
                         "--lakehouse", lake.root, "--run-id", "f"])
    assert code == 1
    assert "run f was written from other input (1 file, " in caplog.text
    assert "re-run with --force" in caplog.text
    assert lake.read(spark, "rfm_runs").collect() == [written]  # nothing was written
    assert lake.read(spark, "rfm_customers").count() == 10

    forced = run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="f",
                              force=True)
    assert forced.customer_count == 11
    assert read_table(spark, lake, "rfm_customers").count() == 11
    assert lake.read(spark, "rfm_customers").count() == 11
    [replaced] = lake.read(spark, "rfm_runs").collect()
    assert replaced.status == "succeeded"
    assert replaced.input_fingerprint.split()[0] != written.input_fingerprint.split()[0]


def test_metastore_tables_and_views_of_what_readers_see(spark, golden):
    with_simulation = load_config([REPO / "conf/default.yaml"], [
        "output.database=rfm_test", "simulation.upgrade.scenarios=[{name: s, conversion: 0.5}]"])
    result = run_segmentation(spark, with_simulation, golden, run_id="m1")
    lake = result.written_to
    assert lake.location("rfm_customers") == "rfm_test.rfm_customers"
    assert spark.read.table("rfm_test.rfm_customers").count() == 10
    assert spark.sql("DESCRIBE DETAIL rfm_test.rfm_segments").first().format == "delta"
    assert spark.read.table("rfm_test.rfm_runs").first().status == "succeeded"
    # SQL users read v_<table>: the succeeded attempts' rows, without the attempt ids.
    for table in (*RUN_TABLES, "rfm_runs"):
        view = spark.table(f"rfm_test.v_{table}")
        expected = read_table(spark, lake, table)
        assert view.count() == expected.count() > 0, table
        assert view.columns == expected.columns, table


@pytest.mark.parametrize("bad", ["", "x'; DROP", "a b", "-lead", "x" * 129])
def test_run_ids_that_could_break_a_predicate_are_refused(bad):
    with pytest.raises(ConfigError, match="run id"):
        check_run_id(bad)


def test_a_table_left_without_a_commit_reads_as_empty_and_is_created(spark, golden, tmp_path):
    # A first run killed while creating its tables: a _delta_log with no commit in it.
    lake = Lakehouse(root=str(tmp_path / "lake"))
    (tmp_path / "lake" / "rfm_customers" / "_delta_log").mkdir(parents=True)
    empty = read_table(spark, lake, "rfm_customers")
    assert empty.count() == 0 and "segment_code" in empty.columns
    run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="after")
    assert read_table(spark, lake, "rfm_customers").count() == 10
