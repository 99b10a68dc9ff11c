"""Runs written to real Delta tables: re-runs, failures half-way, the metastore form."""
import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from conftest import REPO
from rfm_spark import load_config, run_segmentation
from rfm_spark.lakehouse import RUN_TABLES, Lakehouse, check_run_id, read_table, write_run


def config(**output):
    key, value = next(iter(output.items()))
    return load_config([REPO / "conf/default.yaml"], [f"output.{key}={value}"])


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
    history = DeltaTable.forPath(spark, lake.location("rfm_customers")).history()
    assert history.count() == 3  # one commit per run, the re-run included


def test_a_run_failing_between_table_writes_is_never_visible(spark, golden, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    good = run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="x")
    # Re-run "x", failing after rfm_customers and rfm_segments are written.
    broken = good.thresholds.withColumn("grade", F.raise_error(F.lit("disk full")).cast("int"))
    record = {"run_id": "x", "as_of_date": good.as_of, "config": "", "customers": 10}
    with pytest.raises(Exception, match="disk full"):
        write_run(lake, "x", {"rfm_customers": good.customers.limit(3),
                              "rfm_segments": good.segments,
                              "rfm_thresholds": broken}, record)

    status = lake.read(spark, "rfm_runs").where("run_id = 'x'").collect()
    assert [(r.status, "disk full" in r.error) for r in status] == [("failed", True)]
    for table in (*RUN_TABLES, "rfm_runs"):
        assert read_table(spark, lake, table).count() == 0, table
    assert lake.read(spark, "rfm_customers").count() == 3  # the half-written rows exist...

    run_segmentation(spark, config(lakehouse=lake.root), golden, run_id="x")
    assert read_table(spark, lake, "rfm_customers").count() == 10  # ...until the re-run
    assert lake.read(spark, "rfm_customers").count() == 10
    assert [r.status for r in lake.read(spark, "rfm_runs").collect()] == ["succeeded"]


def test_metastore_tables(spark, golden):
    result = run_segmentation(spark, config(database="rfm_test"), golden, run_id="m1")
    assert result.written_to.location("rfm_customers") == "rfm_test.rfm_customers"
    assert spark.read.table("rfm_test.rfm_customers").count() == 10
    assert spark.sql("DESCRIBE DETAIL rfm_test.rfm_segments").first().format == "delta"
    assert spark.read.table("rfm_test.rfm_runs").first().status == "succeeded"


@pytest.mark.parametrize("bad", ["", "x'; DROP", "a b", "-lead", "x" * 129])
def test_run_ids_that_could_break_a_predicate_are_refused(bad):
    with pytest.raises(ValueError, match="run id"):
        check_run_id(bad)
