import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from rfm_spark.config import Columns, Csv, Input
from rfm_spark.errors import ConfigError, InputError
from rfm_spark.fingerprint import description, snapshot
from rfm_spark.read import TRANSACTION_SCHEMA, read_source, to_transactions


def read(spark, path, source):
    return to_transactions(read_source(spark, str(path), source), source.date_format,
                           source.csv.decimal)


def test_csv_keeps_ids_as_text_and_flags_what_does_not_parse(spark, tmp_path):
    (tmp_path / "t.csv").write_text(
        "day;client;sum;extra\n"
        "20240105;00042;12.5;x\n"
        "20240230;00043;1;x\n"        # no such date
        "20240106;00044;abc;x\n"      # not a number
        "20240107;00045\n"            # too few fields
        ";;;\n")
    source = Input(columns=Columns(customer_id="client", date="day", amount="sum"),
                   date_format="yyyyMMdd", csv=Csv(delimiter=";"))
    got = read(spark, tmp_path / "t.csv", source)
    short = got.where("malformed").first()
    assert (short.raw_line, short.source_file) == ("20240107;00045", f"file:{tmp_path}/t.csv")
    assert got.where("customer_id = '00044'").first()["values"].asDict() == {
        "day": "20240106", "client": "00044", "sum": "abc", "extra": "x"}
    got = got.select(*TRANSACTION_SCHEMA.fieldNames())
    expected = spark.createDataFrame([
        ("00042", dt.date(2024, 1, 5), Decimal("12.5"), None, None, None, None, None, None, False),
        ("00043", None, Decimal(1), None, None, None, None, None, None, False),
        ("00044", dt.date(2024, 1, 6), None, None, None, None, None, None, None, False),
        ("00045", dt.date(2024, 1, 7), None, None, None, None, None, None, None, True),
        (None, None, None, None, None, None, None, None, None, False),
    ], TRANSACTION_SCHEMA)
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_decimal_commas_with_spaces_grouping_thousands(spark, tmp_path):
    (tmp_path / "t.csv").write_text(
        "d;c;s\n01.02.2024;a;1 234,50\n01.02.2024;b;7\n01.02.2024;c;1.5\n"
        "01.02.2024;d;2\u00a0000,25\n")
    source = Input(columns=Columns(customer_id="c", date="d", amount="s"),
                   date_format="dd.MM.yyyy", csv=Csv(delimiter=";", decimal=","))
    amounts = {r.customer_id: r.amount for r in read(spark, tmp_path / "t.csv", source).collect()}
    # A point is no decimal mark here: "1.5" is not read as 1.5 but rejected (NULL).
    assert amounts == {"a": Decimal("1234.5"), "b": Decimal(7), "c": None,
                       "d": Decimal("2000.25")}


def test_reordered_header_in_a_second_file_fails_instead_of_shifting(spark, tmp_path):
    (tmp_path / "a.csv").write_text("t_dat,customer_id,price\n2024-01-01,c1,1\n")
    (tmp_path / "b.csv").write_text("customer_id,t_dat,price\nc2,2024-01-02,2\n")
    with pytest.raises(Exception, match="CSV header does not conform to the schema"):
        read(spark, tmp_path, Input()).collect()


def test_missing_mapped_column_names_the_columns(spark, tmp_path):
    (tmp_path / "t.csv").write_text("t_dat,customer,price\n2024-01-01,c1,1\n")
    with pytest.raises(ConfigError, match=r"names columns the input does not have \(input"
                                         r"\.columns\.customer_id: 'customer_id'\); it has "
                                         r"\['t_dat', 'customer', 'price'\]"):
        read(spark, tmp_path / "t.csv", Input())


def test_empty_csv_is_a_clear_error(spark, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read(spark, tmp_path / "empty.csv", Input())


def test_parquet_numeric_ids_timestamps_and_quantity_times_price(spark, tmp_path):
    frame = spark.createDataFrame(
        [(17850.0, dt.datetime(2010, 12, 1, 8, 26), 6, 2.55, "536365"),
         (None, dt.datetime(2010, 12, 1, 9, 0), -1, 4.25, "C536379")],
        "CustomerID double, InvoiceDate timestamp, Quantity int, UnitPrice double, "
        "InvoiceNo string")
    frame.write.parquet(str(tmp_path / "p"))
    source = Input(format="parquet", columns=Columns(
        customer_id="CustomerID", date="InvoiceDate", amount=None, quantity="Quantity",
        unit_price="UnitPrice", order_id="InvoiceNo"))
    rows = sorted(read(spark, tmp_path / "p", source).collect(), key=lambda r: r.order_id)
    assert rows[0].customer_id == "17850"  # not "17850.0"
    assert rows[0].purchase_date == dt.date(2010, 12, 1)
    assert rows[0].amount == Decimal("15.3")  # exact: 6 x 2.55, not 15.299999999999999
    assert (rows[1].customer_id, rows[1].quantity, rows[1].amount) == (None, -1.0,
                                                                       Decimal("-4.25"))


@pytest.mark.parametrize("kind", ["delta", "csv", "parquet"])
def test_missing_path_is_a_clear_error(spark, tmp_path, kind):
    with pytest.raises(ConfigError, match=r"nothing: no (such Delta table|input files)"):
        snapshot(spark, str(tmp_path / "nothing"), kind)


def test_delta_input_is_read_at_the_version_it_was_fingerprinted(spark, tmp_path):
    table = str(tmp_path / "d")
    frame = spark.createDataFrame([("2024-01-01", "c1", "1.5")],
                                  "t_dat string, customer_id string, price string")
    frame.write.format("delta").save(table)
    first = snapshot(spark, table, "delta")
    frame.write.format("delta").mode("append").save(table)  # written to during a run
    second = snapshot(spark, table, "delta")
    assert (description(first.fingerprint), description(second.fingerprint)) == (
        "Delta table version 0", "Delta table version 1")
    assert (first.delta_version, first.qualified) == (0, f"file:{table}")
    rows = to_transactions(read_source(spark, table, Input(format="delta"), first.delta_version),
                           "yyyy-MM-dd").collect()
    assert [(r.customer_id, r.amount) for r in rows] == [("c1", Decimal("1.5"))]
    assert rows[0].source_file.startswith(f"file:{table}/part-")


INJECTION = """t_dat,customer_id,article_id,price,sales_channel_id
2020-03-01,c01,1,5.00,1
2020-03-02,c02,1,6.00,1
2020-03-05,c03,"note
2020-09-30,INJECTED,1,99999.00,1
end",7.00,1
"""


def test_a_line_break_inside_quotes_is_part_of_one_record_not_new_rows(spark, tmp_path):
    from conftest import REPO
    from rfm_spark import load_config, run_segmentation
    (tmp_path / "t.csv").write_text(INJECTION)
    result = run_segmentation(spark, load_config([REPO / "conf/default.yaml"]),
                              str(tmp_path / "t.csv"), write=False)
    # Three records, as Python's csv reads the file; the quoted text invents nothing.
    assert (result.input_rows, result.valid_rows, result.dropped_by_reason) == (3, 3, {})
    assert {r.customer_id for r in result.customers.collect()} == {"c01", "c02", "c03"}
    assert result.as_of == dt.date(2020, 3, 5)


def test_nan_and_infinite_float_ids_are_no_customer(spark, tmp_path):
    frame = spark.createDataFrame(
        [(17850.0, "2010-12-01", 10.0), (float("nan"), "2010-12-01", 500.0),
         (float("inf"), "2010-12-01", 400.0), (float("-inf"), "2010-12-01", 300.0)],
        "CustomerID double, day string, amount double")
    frame.write.parquet(str(tmp_path / "p"))
    source = Input(format="parquet", columns=Columns(customer_id="CustomerID", date="day",
                                                     amount="amount"))
    ids = sorted((r.customer_id or "") for r in read(spark, tmp_path / "p", source).collect())
    assert ids == ["", "", "", "17850"]  # NULL: rejected as missing_customer_id


@pytest.mark.parametrize("text, amount", [
    ("12", Decimal(12)), ("-3.50", Decimal("-3.5")), (".5", Decimal("0.5")), (" 7 ", Decimal(7)),
    ("1.2E+5", None), ("1e3", None), ("١٢٣", None), ("１２", None), ("12,5", None), ("", None),
])
def test_amounts_are_plain_decimals_in_ascii_digits(spark, tmp_path, text, amount):
    (tmp_path / "t.csv").write_text(f't_dat,customer_id,price\n2024-01-01,c1,"{text}"\n')
    [row] = read(spark, tmp_path / "t.csv", Input()).collect()
    assert row.amount == amount


@pytest.mark.parametrize("zone, stamp, date", [
    (None, "2024-01-05T23:30:00+02:00", dt.date(2024, 1, 5)),         # 21:30 UTC
    (None, "2024-01-05T23:30:00-05:00", dt.date(2024, 1, 6)),         # 04:30 UTC
    ("America/New_York", "2024-01-05T23:30:00-05:00", dt.date(2024, 1, 5)),
    ("Asia/Tokyo", "2024-01-05T20:00:00+00:00", dt.date(2024, 1, 6)),  # 05:00 in Tokyo
])
def test_a_timestamp_with_a_zone_is_dated_in_the_configured_zone(spark, tmp_path, zone, stamp,
                                                                   date):
    (tmp_path / "t.csv").write_text(f"t_dat,customer_id,price\n{stamp},c1,1\n")
    source = Input(date_format="yyyy-MM-dd'T'HH:mm:ssXXX", timezone=zone)
    raw = read_source(spark, str(tmp_path / "t.csv"), source)
    [row] = to_transactions(raw, source.date_format, timezone=zone).collect()
    assert row.purchase_date == date


def test_a_time_without_a_zone_keeps_the_date_written(spark, tmp_path):
    (tmp_path / "t.csv").write_text("t_dat,customer_id,price\n2024-01-05 23:30,c1,1\n")
    source = Input(date_format="yyyy-MM-dd HH:mm", timezone="Asia/Tokyo")
    raw = read_source(spark, str(tmp_path / "t.csv"), source)
    [row] = to_transactions(raw, source.date_format, timezone="Asia/Tokyo").collect()
    assert row.purchase_date == dt.date(2024, 1, 5)


def test_a_delta_folder_is_not_read_as_parquet_files(spark, tmp_path):
    table = str(tmp_path / "d")
    frame = spark.createDataFrame([("2024-01-01", "c1", "1.5")],
                                  "t_dat string, customer_id string, price string")
    frame.write.format("delta").save(table)
    frame.write.format("delta").mode("overwrite").save(table)  # a removed file stays on disk
    with pytest.raises(InputError, match=r"d: is a Delta table; read as parquet it would also "
                                         r"count the files Delta removed: use --format delta"):
        snapshot(spark, table, "parquet")


def test_rows_appended_to_a_delta_input_during_a_run_are_in_none_of_its_tables(
        spark, tmp_path, monkeypatch):
    from conftest import REPO
    from rfm_spark import load_config, run_segmentation
    from rfm_spark.steps import report_quality
    table = str(tmp_path / "d")
    spark.createDataFrame([("2024-01-01", "c1", "1.5"), ("not-a-date", "c2", "2")],
                          "t_dat string, customer_id string, price string") \
        .write.format("delta").save(table)

    def append_meanwhile(*args):  # another job appends while this run is past its counts
        spark.createDataFrame([("bad", "c3", "1"), ("2024-01-02", "c4", "x")],
                              "t_dat string, customer_id string, price string") \
            .write.format("delta").mode("append").save(table)
        return report_quality(*args)
    monkeypatch.setattr("rfm_spark.pipeline.report_quality", append_meanwhile)
    result = run_segmentation(spark, load_config([REPO / "conf/default.yaml"],
                                                 ["input.format=delta"]), table, write=False)
    assert result.dropped_by_reason == {"bad_date": 1}
    assert [r.reason for r in result.rejects.collect()] == ["bad_date"]  # read at version 0
    assert spark.read.format("delta").load(table).count() == 4
