"""Bad input: every reject reason on one corrupt CSV, quarantined row by row; headers that
do not match; empty input; results that do not depend on spark.sql.ansi.enabled."""
import datetime as dt

import pytest
from chispa import assert_df_equality

from conftest import REPO
from rfm_spark import load_config, run_segmentation
from rfm_spark.errors import ConfigError
from rfm_spark.jobs import segment
from rfm_spark.lakehouse import Lakehouse, read_table

HEADER = "line_id,t_dat,customer_id,price,order,qty,country\n"
CORRUPT = HEADER + """1,2024-01-10,c1,10,o1,1,UK
2,2024-01-11,c1,5,o2,1,UK
3,2024-01-31,c2,7,o3,1,UK
4,2024-01-12,c2,7
5,2024-01-12,,3,o5,1,UK
6,2024-01-12,x9,3,o6,1,UK
7,2024-13-45,c3,3,o7,1,UK
8,2024-01-12,c3,abc,o8,1,UK
1,2024-01-10,c1,10,o1,1,UK
10,2024-02-01,c3,3,o10,1,UK
11,2024-01-01,c3,3,o11,1,UK
12,2024-01-12,c3,3,o12,1,FR
13,2024-01-12,c3,3,C13,1,UK
14,2024-01-12,c3,0,o14,1,UK
15,2024-01-13,c3,4,o15,1,UK,extra
"""
# As of 2024-01-31 with a 30-day lookback, the first day used is 2024-01-02.
EXPECTED_REASONS = {
    "malformed_row": 2,          # lines 4 (too few fields) and 15 (too many)
    "missing_customer_id": 1,    # 5
    "unidentified_customer": 1,  # 6: not c + digits
    "bad_date": 1,               # 7: month 13
    "bad_amount": 1,             # 8
    "duplicate": 1,              # the second line_id 1
    "after_as_of": 1,            # 10: 2024-02-01
    "before_lookback": 1,        # 11: 2024-01-01
    "country_excluded": 1,       # 12
    "cancelled": 1,              # 13: order id C13
    "non_positive_amount": 1,    # 14: price 0
}
RULES = ["input.columns.order_id=order", "input.columns.quantity=qty",
         "input.columns.country=country", "clean.customer_id_pattern=c\\d+",
         "clean.duplicate_key=[line_id]", "clean.lookback_days=30", "clean.countries=[UK]",
         "clean.cancellations=drop", "clean.drop_non_positive_amounts=true",
         "metrics.as_of=2024-01-31"]


def corrupt_config(lake=None, *more):
    output = [f"output.lakehouse={lake}"] if lake else []
    return load_config([REPO / "conf/default.yaml"], RULES + output + list(more))


@pytest.fixture
def corrupt(tmp_path):
    path = tmp_path / "corrupt.csv"
    path.write_text(CORRUPT)
    return path


@pytest.mark.e2e
def test_every_reason_is_quarantined_and_the_counts_add_up(spark, corrupt, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    result = run_segmentation(spark, corrupt_config(lake.root), str(corrupt), run_id="bad")
    assert (result.input_rows, result.valid_rows) == (15, 3)
    assert result.dropped_by_reason == EXPECTED_REASONS
    run = read_table(spark, lake, "rfm_runs").first()
    assert run.input_rows == run.valid_rows + sum(run.dropped_by_reason.values()) == 15
    rejects = read_table(spark, lake, "rfm_rejects").collect()
    by_reason = {}
    for row in rejects:
        by_reason[row.reason] = by_reason.get(row.reason, 0) + 1
    assert by_reason == run.dropped_by_reason == EXPECTED_REASONS
    raw = {row.raw for row in rejects if row.reason == "malformed_row"}
    assert raw == {"4,2024-01-12,c2,7", "15,2024-01-13,c3,4,o15,1,UK,extra"}
    bad_amount = next(row for row in rejects if row.reason == "bad_amount")
    assert bad_amount.raw == ('{"line_id":"8","t_dat":"2024-01-12","customer_id":"c3",'
                              '"price":"abc","order":"o8","qty":"1","country":"UK"}')
    assert bad_amount.source_file.endswith("/corrupt.csv") and bad_amount.amount is None
    quality = {(r.check, r.scope): r for r in result.quality}
    assert quality[("rows", "rejected")].rows == 12 and quality[("rows", "rejected")].warning
    assert {scope for check, scope in quality if check == "rows"} >= set(EXPECTED_REASONS)


def test_quarantine_can_leave_out_reasons_that_are_only_counted(spark, corrupt):
    config = corrupt_config(None, "clean.quarantine=[bad_date, bad_amount]")
    result = run_segmentation(spark, config, str(corrupt), write=False)
    assert sorted(r.reason for r in result.rejects.collect()) == ["bad_amount", "bad_date"]
    assert result.dropped_by_reason == EXPECTED_REASONS


def test_results_do_not_depend_on_ansi_mode(spark, corrupt):
    # Every kind of bad value (text where numbers and dates go, a zero amount, short and
    # long lines) under both modes; in ANSI mode a plain cast of one would fail the job.
    outputs = {}
    before = spark.conf.get("spark.sql.ansi.enabled")
    try:
        for ansi in ("true", "false"):
            spark.conf.set("spark.sql.ansi.enabled", ansi)
            outputs[ansi] = [run_segmentation(spark, corrupt_config(), str(corrupt),
                                              write=False)]
            for result in outputs[ansi]:  # read while the mode is set
                for frame in ("customers", "segments", "thresholds", "rejects"):
                    setattr(result, frame, spark.createDataFrame(
                        getattr(result, frame).collect(), getattr(result, frame).schema))
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)
    for on, off in zip(outputs["true"], outputs["false"]):
        assert on.dropped_by_reason == off.dropped_by_reason and on.quality == off.quality
        for frame in ("customers", "segments", "thresholds", "rejects"):
            assert_df_equality(getattr(on, frame), getattr(off, frame), ignore_row_order=True)


@pytest.mark.e2e
def test_a_reordered_header_in_one_file_fails_the_run_naming_both(spark, tmp_path, caplog):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_text("t_dat,customer_id,price\n2024-01-01,c1,1\n")
    (tmp_path / "in/b.csv").write_text("customer_id,t_dat,price\nc2,2024-01-02,2\n")
    code = segment.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                         str(tmp_path / "in"), "--lakehouse", str(tmp_path / "lake")])
    assert code == 1
    assert ("b.csv: header customer_id, t_dat, price does not match the first file's t_dat, "
            "customer_id, price; every file must have the same columns" in caplog.text)
    assert not (tmp_path / "lake").exists()


def test_a_renamed_column_stops_with_the_names(spark, tmp_path):
    (tmp_path / "t.csv").write_text("t_dat,client,price\n2024-01-01,c1,1\n")
    with pytest.raises(ConfigError, match=r"input.columns.customer_id: 'customer_id'.*"
                                         r"\['t_dat', 'client', 'price'\]"):
        run_segmentation(spark, load_config([REPO / "conf/default.yaml"]),
                         str(tmp_path / "t.csv"), write=False)


@pytest.mark.parametrize("text, code, message", [
    ("", 2, "t.csv: no input files (none with data)"),
    ("t_dat,customer_id,price\n", 1, "no valid transactions"),
    ("t_dat,customer_id,price\nnot-a-date,c1,1\n", 1, "no valid transactions"),
])
@pytest.mark.e2e
def test_empty_input_or_no_valid_rows_writes_no_run(spark, tmp_path, caplog, text, code,
                                                    message):
    (tmp_path / "t.csv").write_text(text)
    lake = tmp_path / "lake"
    assert segment.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                         str(tmp_path / "t.csv"), "--lakehouse", str(lake)]) == code
    assert message in caplog.text
    assert not (lake / "rfm_runs").exists()


@pytest.mark.e2e
def test_a_folder_that_is_no_delta_table_fails_before_any_work(spark, tmp_path, caplog):
    (tmp_path / "lake/rfm_runs").mkdir(parents=True)
    (tmp_path / "lake/rfm_runs/part-0.parquet").write_text("not a table")
    (tmp_path / "t.csv").write_text("t_dat,customer_id,price\n2024-01-01,c1,1\n")
    assert segment.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                         str(tmp_path / "t.csv"), "--lakehouse", str(tmp_path / "lake")]) == 2
    assert "rfm_runs: exists but is not a Delta table" in caplog.text


@pytest.mark.parametrize("text, code, message", [
    # An unbalanced quote swallows the header into one name: the mapped columns are missing.
    ('t_dat,"customer_id,price\n2024-01-01,c1,1\n', 2,
     "the config names columns the input does not have"),
    ("t_dat,customer_id,price,note,note\n2024-01-01,c1,1,a,b\n", 1,
     "the header names ['note'] more than once"),
])
def test_unusual_headers_are_one_clear_line(spark, tmp_path, caplog, text, code, message):
    (tmp_path / "t.csv").write_text(text)
    assert segment.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                         str(tmp_path / "t.csv"), "--dry-run"]) == code
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0] and "t.csv" in errors[0]


def test_a_header_with_a_trailing_comma_reads(spark, tmp_path, capsys):
    # A BOM and Windows line ends, as Excel writes them, are no part of the names.
    (tmp_path / "t.csv").write_bytes("\ufefft_dat,customer_id,price,\r\n2024-01-01,c1,1,\r\n"
                                     "2024-01-02,c2,2,\r\n".encode())
    assert segment.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                         str(tmp_path / "t.csv"), "--dry-run"]) == 0
    assert "2 rows read, 2 used" in capsys.readouterr().out


def test_a_date_beyond_the_plausible_years_is_a_reject_reason(spark, tmp_path):
    (tmp_path / "t.csv").write_text("t_dat,customer_id,price\n2024-01-01,c1,1\n"
                                    "+10000-01-01,c2,1\n0001-01-01,c3,1\n")
    result = run_segmentation(spark, load_config([REPO / "conf/default.yaml"]),
                              str(tmp_path / "t.csv"), write=False)
    assert result.dropped_by_reason == {"implausible_date": 2}
    assert result.as_of == dt.date(2024, 1, 1)
    raws = sorted(r.raw for r in result.rejects.collect())  # the text, as read
    assert raws == ['{"t_dat":"+10000-01-01","customer_id":"c2","price":"1"}',
                    '{"t_dat":"0001-01-01","customer_id":"c3","price":"1"}']
