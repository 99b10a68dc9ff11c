"""Every table is written from its declaration in rfm_spark/tables.py: the columns and
types stored are the declared ones, a preset's extra columns are added, nothing else."""
import datetime as dt

import pytest

from conftest import GOLDEN_CSV, REPO
from rfm_spark import load_config, run_segmentation
from rfm_spark.errors import RfmError
from rfm_spark.lakehouse import Lakehouse
from rfm_spark.steps import conform, layout
from rfm_spark.tables import ATTEMPT, SEGMENTATION_TABLES, TABLES

# A preset's extra columns: grading per store, and a group attribute of each kind.
WITH_STORES = [
    "input.columns.store=shop", "grading.partition_by=[store]",
    "segments=null",
    "groups=[{name: Near, codes: ['1**'], attributes: {warmth: 1, warmth_name: hot}},"
    " {name: Far, codes: ['2**', '3**'], attributes: {warmth: 2, warmth_name: cold}}]",
]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """One lakehouse, two runs: the default preset, then one with stores and attributes."""
    folder = tmp_path_factory.mktemp("tables")
    (folder / "golden.csv").write_text(GOLDEN_CSV)
    lake = Lakehouse(root=str(folder / "lake"))
    plain = load_config([REPO / "conf/default.yaml"], [f"output.lakehouse={lake.root}"])
    run_segmentation(spark, plain, str(folder / "golden.csv"), run_id="plain")
    rows = [("a", "2024-01-10", "s1", "10"), ("b", "2024-01-05", "s1", "20"),
            ("c", "2024-01-09", "s2", "30")]
    frame = spark.createDataFrame(rows, "customer_id string, t_dat string, shop string, "
                                        "price string")
    stores = load_config([REPO / "conf/default.yaml"],
                         [f"output.lakehouse={lake.root}", *WITH_STORES])
    run_segmentation(spark, stores, frame, run_id="stores")
    return lake, plain, stores


def stored_columns(spark, lake, table):
    return [(f.name, f.dataType.simpleString()) for f in lake.read(spark, table).schema.fields]


def test_every_table_holds_exactly_its_declared_columns_and_types(spark, lake):
    lake, plain, stores = lake
    for table in SEGMENTATION_TABLES:  # campaign tables: tests/test_campaign_jobs.py
        name = table.name
        declared = dict(table.layout(stores.grading.partition_by,
                                     {"warmth": "bigint", "warmth_name": "string"}))
        stored = stored_columns(spark, lake, name)
        assert dict(stored) == declared, name
        # Created from the first run's declaration; the second added only its columns.
        first = [column for column, _ in table.layout()]
        assert [column for column, _ in stored][:len(first)] == first, name


def test_group_attributes_have_one_type_in_every_table(spark, lake):
    lake, _, _ = lake
    for table in ("rfm_customers", "rfm_segments"):
        assert dict(stored_columns(spark, lake, table))["warmth"] == "bigint", table
    row = lake.read(spark, "rfm_customers").where("run_id = 'stores' AND customer_id = 'a'").first()
    assert (row.store, row.warmth, row.warmth_name) == ("s1", 1, "hot")
    plain_row = lake.read(spark, "rfm_customers").where("run_id = 'plain'").first()
    assert (plain_row.store, plain_row.warmth) == (None, None)  # another preset's columns


def test_the_runs_record_is_the_declared_row(spark, lake):
    lake, plain, _ = lake
    run = lake.read(spark, "rfm_runs").where("run_id = 'plain'").first().asDict()
    assert list(run) == [name for name, _ in TABLES["rfm_runs"].layout()]
    assert (run["status"], run["input_rows"], run["customers"]) == ("succeeded", 21, 10)
    assert run["config_sha256"] == plain.with_input_path(run["input_path"]).sha256


def test_a_frame_that_does_not_match_the_contract_is_a_bug(spark, lake):
    _, plain, _ = lake
    customers = spark.createDataFrame([("r", dt.date(2024, 1, 1), "c")],
                                      "run_id string, as_of_date date, client string")
    with pytest.raises(AssertionError, match=r"missing \['customer_id'.*not declared \['client'\]"):
        conform(customers, layout(plain, "rfm_customers"))


def test_a_table_of_another_shape_is_refused_naming_the_column(spark, golden, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    columns = ", ".join(f"`{n}` {'bigint' if n == 'grade' else t}"
                        for n, t in TABLES["rfm_thresholds"].layout())
    spark.sql(f"CREATE TABLE delta.`{lake.location('rfm_thresholds')}` ({columns}) USING delta")
    config = load_config([REPO / "conf/default.yaml"], [f"output.lakehouse={lake.root}"])
    with pytest.raises(RfmError, match=r"rfm_thresholds: column grade is bigint, but this "
                                       r"version writes int"):
        run_segmentation(spark, config, golden, run_id="x")
    assert lake.read(spark, "rfm_runs").count() == 0  # refused before the claim


def test_every_run_table_has_the_writers_attempt_column():
    for name, table in TABLES.items():
        if table.run_table:
            assert [column for column, _ in table.layout()][-1] == ATTEMPT, name
