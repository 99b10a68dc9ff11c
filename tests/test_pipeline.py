"""The golden fixture: ten customers whose every metric, grade and segment is worked out
by hand below, read from a real CSV file and written to real Delta tables."""
import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from conftest import GOLDEN_CSV, REPO
from rfm_spark import load_config, run_segmentation
from rfm_spark.lakehouse import Lakehouse, read_table

# Quantile rule, N = 10, k = 3: grade = 1 + floor(3 * b / 10), b = customers strictly better.
# Recency (lower better): 0,0 -> b0; 1 -> b2; 2,2 -> b3 (g1, the tie stays together);
#   3 -> b5 (g2); 5 -> b6 (g2); 6 -> b7 (g3); 8 -> b8; 9 -> b9.
# Frequency = days (no order id): 4 -> b0; 3 -> b1; 2,2,2 -> b2 (all g1); 1 x5 -> b5 (g2);
#   grade 3 stays empty.
# Monetary = sum: 203 -> b0; 100 -> b1; 60 x3 -> b2 (g1); 35 -> b5 (g2); 20,20 -> b6 (g2);
#   5 -> b8 (g3); 1 -> b9 (g3).
EXPECTED = [
    # id, first, last, recency, tenure, F, M, r, f, m, code, segment, group
    ("00010", "2024-01-01", "2024-01-01", 9, 9, 1, Decimal(60), 3, 2, 1, "321", "Leaving occasional", "Leaving"),
    ("c01", "2024-01-05", "2024-01-10", 0, 5, 2, Decimal(35), 1, 1, 2, "112", "Frequent", "Active"),
    ("c02", "2024-01-10", "2024-01-10", 0, 0, 1, Decimal(100), 1, 2, 1, "121", "Regular big spenders", "Active"),
    ("c03", "2024-01-01", "2024-01-09", 1, 9, 3, Decimal(20), 1, 1, 2, "112", "Frequent", "Active"),
    ("c04", "2024-01-02", "2024-01-08", 2, 8, 2, Decimal(60), 1, 1, 1, "111", "VIP", "Active"),
    ("c05", "2024-01-08", "2024-01-08", 2, 2, 1, Decimal(5), 1, 2, 3, "123", "Regular", "Active"),
    ("c06", "2024-01-06", "2024-01-07", 3, 4, 2, Decimal(60), 2, 1, 1, "211", "Sleeping frequent", "Sleeping"),
    ("c07", "2024-01-05", "2024-01-05", 5, 5, 1, Decimal(1), 2, 2, 3, "223", "Sleeping occasional", "Sleeping"),
    ("c08", "2024-01-01", "2024-01-04", 6, 9, 4, Decimal(203), 3, 1, 1, "311", "Leaving VIP", "Leaving"),
    ("c09", "2024-01-02", "2024-01-02", 8, 8, 1, Decimal(20), 3, 2, 2, "322", "Leaving occasional", "Leaving"),
]


def golden_config(lakehouse, *overrides):
    return load_config([REPO / "conf/default.yaml"],
                       [f"output.lakehouse={lakehouse}", *overrides])


def expected_customers(spark, run_id):
    d = dt.date.fromisoformat
    rows = [(run_id, d("2024-01-10"), cid, d(first), d(last), recency, tenure, f, None, m,
             r_grade, f_grade, m_grade, None, code, None, segment, None, group, [], None)
            for cid, first, last, recency, tenure, f, m, r_grade, f_grade, m_grade, code,
            segment, group in EXPECTED]
    # No rate, age grade, ids, tags or score in the default preset: NULL / empty.
    schema = ("run_id string, as_of_date date, customer_id string, first_purchase_date date, "
              "last_purchase_date date, recency_days int, tenure_days int, frequency long, "
              "frequency_rate decimal(38,8), monetary decimal(38,8), r_grade int, f_grade int, "
              "m_grade int, a_grade int, segment_code string, segment_id string, segment string, "
              "group_id string, group string, tags array<string>, score decimal(12,6)")
    return spark.createDataFrame(rows, schema)


@pytest.fixture(scope="module")
def golden_run(spark, tmp_path_factory):
    """The golden fixture written once as run `golden`: its result and lakehouse."""
    folder = tmp_path_factory.mktemp("golden")
    (folder / "golden.csv").write_text(GOLDEN_CSV)
    lake = Lakehouse(root=str(folder / "lake"))
    result = run_segmentation(spark, golden_config(lake.root), str(folder / "golden.csv"),
                              run_id="golden")
    return result, lake


@pytest.mark.e2e
def test_golden_fixture_column_by_column(spark, golden_run):
    result, lake = golden_run

    assert result.as_of == dt.date(2024, 1, 10)
    assert (result.input_rows, result.valid_rows) == (21, 19)
    assert result.dropped_by_reason == {"bad_date": 1, "missing_customer_id": 1}
    written = read_table(spark, lake, "rfm_customers")
    assert_df_equality(written, expected_customers(spark, "golden"), ignore_row_order=True,
                       ignore_nullable=True)


@pytest.mark.e2e
def test_golden_thresholds_record_cut_points_and_empty_grades(spark, golden_run):
    _, lake = golden_run
    rows = {(r.metric, r.grade): r for r in read_table(spark, lake, "rfm_thresholds").collect()}
    assert len(rows) == 9
    assert rows[("recency", 1)].cut_points == [2.0, 5.0] and rows[("recency", 1)].closed == "right"
    assert (rows[("recency", 1)].min_value, rows[("recency", 1)].max_value) == (0.0, 2.0)
    assert [rows[("recency", g)].customers for g in (1, 2, 3)] == [5, 2, 3]
    assert [rows[("frequency", g)].customers for g in (1, 2, 3)] == [5, 5, 0]
    assert rows[("frequency", 3)].min_value is None
    assert rows[("frequency", 1)].cut_points == [1.0]
    assert [rows[("monetary", g)].customers for g in (1, 2, 3)] == [5, 3, 2]
    assert rows[("monetary", 2)].cut_points == [5.0, 35.0]


@pytest.mark.e2e
def test_golden_segment_summary(spark, golden_run):
    _, lake = golden_run
    segments = {r.segment_code: r for r in read_table(spark, lake, "rfm_segments").collect()}
    assert len(segments) == 27  # every code, held or not
    assert segments["112"].customers == 2 and segments["112"].share == pytest.approx(0.2)
    assert segments["112"].monetary_total == Decimal(55)
    assert segments["112"].monetary_share == pytest.approx(55 / 564)
    assert segments["112"].mean_recency_days == pytest.approx(0.5)
    assert segments["333"].customers == 0 and segments["333"].mean_monetary is None
    assert sum(r.customers for r in segments.values()) == 10


@pytest.mark.parametrize("frequency, monetary, c01, c08", [
    ("rows", "sum", (3, Decimal(35)), (4, Decimal(203))),
    ("days", "sum", (2, Decimal(35)), (4, Decimal(203))),
    ("orders", "mean_order", (2, Decimal("17.5")), (4, Decimal("50.75"))),
])
def test_frequency_and_monetary_options(spark, golden, tmp_path, frequency, monetary, c01, c08):
    config = golden_config(tmp_path / "lake", f"metrics.frequency={frequency}",
                           f"metrics.monetary={monetary}")
    result = run_segmentation(spark, config, golden, write=False)
    got = {r.customer_id: (r.frequency, r.monetary) for r in result.customers.collect()}
    assert got["c01"] == c01 and got["c08"] == c08


def test_as_of_and_dataframe_input(spark, golden, tmp_path):
    """A DataFrame in the source's own columns works like a path; rows after as-of are
    counted, and recency counts from the given date."""
    source = spark.read.option("header", True).csv(golden)
    config = golden_config(tmp_path / "lake", "metrics.as_of=2024-01-08")
    result = run_segmentation(spark, config, source, write=False)
    assert result.dropped_by_reason == {"bad_date": 1, "missing_customer_id": 1,
                                        "after_as_of": 4}
    c01 = result.customers.where(F.col("customer_id") == "c01").first()
    assert (c01.recency_days, c01.frequency, c01.monetary) == (3, 1, Decimal(20))
    assert result.run_id.startswith("2024-01-08_")


@pytest.mark.e2e
def test_no_valid_rows_is_a_clear_error_and_writes_nothing(spark, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("t_dat,customer_id,price\nnot-a-date,c1,1\n2024-01-01,,2\n")
    from rfm_spark.read import InputError
    with pytest.raises(InputError, match="no valid transactions"):
        run_segmentation(spark, golden_config(tmp_path / "lake"), str(path))
    assert not (tmp_path / "lake").exists()


@pytest.mark.e2e
def test_partitioned_runs_grade_each_store_and_migrate_per_store(spark, tmp_path):
    # Customer a buys in both stores: one row per (customer, store). Recency in 2 quantile
    # grades per store; F (1 order: grade 2) and M (10 > 5: grade 1) by fixed cuts. s1 on 2024-01-10: a (0 days), b (5) -> a 1,
    # b 2. s2: a (9 days), c (1), row with no store: d -> its own partition, grade 1.
    rows = [("a", "2024-01-10", "s1", "10"), ("b", "2024-01-05", "s1", "10"),
            ("a", "2024-01-01", "s2", "10"), ("c", "2024-01-09", "s2", "10"),
            ("d", "2024-01-02", None, "10")]
    frame = spark.createDataFrame(rows, "customer_id string, t_dat string, shop string, "
                                        "price string")
    config = load_config([REPO / "conf/default.yaml"], [
        f"output.lakehouse={tmp_path / 'lake'}", "input.columns.store=shop",
        "grading.partition_by=[store]", "grading.recency.grades=2",
        "grading.frequency={method: thresholds, cuts: [1], grades: null}",
        "grading.monetary={method: thresholds, cuts: [5], grades: null}",
        "segments=[{name: Recent, group: A, codes: ['1**']}, {name: Older, group: B, codes: ['2**']}]"])
    first = run_segmentation(spark, config.with_as_of(dt.date(2024, 1, 10)), frame, run_id="one")
    got = {(r.customer_id, r.store): (r.recency_days, r.r_grade) for r in
           first.customers.collect()}
    assert got == {("a", "s1"): (0, 1), ("b", "s1"): (5, 2), ("a", "s2"): (9, 2),
                   ("c", "s2"): (1, 1), ("d", None): (8, 1)}
    scopes = {(r.scope, r.grade): r.cut_points for r in first.thresholds.collect()
              if r.metric == "recency"}
    assert scopes[("store=s1", 1)] == [0.0] and scopes[("store=s2", 1)] == [1.0]
    sizes = {(r.store, r.segment_code): r.customers for r in first.segments.collect()
             if r.customers}
    assert sizes == {("s1", "121"): 1, ("s1", "221"): 1, ("s2", "121"): 1, ("s2", "221"): 1,
                     (None, "121"): 1}
    # Ten days later nobody bought again: in s2, a (19 days) and c (11) keep their order.
    second = run_segmentation(spark, config.with_as_of(dt.date(2024, 1, 20)), frame, run_id="two")
    assert second.migrations == [("one", "two")]
    moves = {(r.from_value, r.to_value): r.customers for r in read_table(
        spark, Lakehouse(root=str(tmp_path / "lake")), "rfm_migrations").collect()
             if r.level == "segment"}
    assert moves == {("Recent", "Recent"): 3, ("Older", "Older"): 2}
