"""Each source profile in conf/sources/ end to end through jobs/segment.py, on a small file
in the source's own shape whose results are worked out by hand below."""
import datetime as dt
import runpy
from decimal import Decimal

import pytest

from conftest import REPO
from rfm_spark import load_config, run_segmentation
from rfm_spark.lakehouse import Lakehouse, read_table

from rfm_spark.jobs import segment

HM = """t_dat,customer_id,article_id,price,sales_channel_id
2020-09-20,a,1,0.05,2
2020-09-20,a,2,0.03,1
2020-09-20,a,1,0.05,2
2020-09-10,b,3,0.02,2
2020-09-22,c,4,0.1,1
2020-09-22,,5,0.01,1
"""

ONLINE_RETAIL = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom
536366,22633,HAND WARMER,6,12/2/2010 8:28,1.85,17850,United Kingdom
C536379,D,Discount,-1,12/3/2010 9:41,27.50,17850,United Kingdom
536367,84879,BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047,United Kingdom
536368,22960,JAM MAKING SET,3,12/1/2010 8:34,4.25,12583,France
536369,21756,BATH BUILDING BLOCK,3,12/1/2010 8:35,5.95,,United Kingdom
536370,22728,ALARM CLOCK,-2,12/3/2010 10:00,3.75,13047,United Kingdom
"""

PHARMACY = """doc_id,datetime,shop,card,summ_with_disc
1,2022-06-01 10:00:00,1,2000000000001,100
2,2022-06-01 11:00:00,1,1234,50
3,2022-06-02 09:00:00,2,2000000000001,200
4,2022-06-03 12:00:00,2,,30
5,2022-06-04 13:00:00,2,2000000000002,80
5,2022-06-04 13:00:00,2,2000000000002,80
6,2022-06-05 14:00:00,1,2000000000003,40
"""

# Two 1C export blocks that overlap by one cheque, in Windows-1251.
ONEC_A = """Дата;НомерЧека;Карта;Магазин;Сумма
27.08.2019 10:15:32;A-1;К001;Центр;1 234,50
28.08.2019 11:00:00;A-2;К002;Центр;99,90
"""
ONEC_B = """Дата;НомерЧека;Карта;Магазин;Сумма
28.08.2019 11:00:00;A-2;К002;Центр;99,90
29.08.2019 12:00:00;B-1;К001;Север;10
2019-08-30 12:00:00;B-2;К003;Север;5
"""

pytestmark = pytest.mark.e2e


def configs(source, preset=None):
    files = [REPO / "conf/default.yaml", REPO / f"conf/sources/{source}.yaml"]
    return files + ([REPO / f"conf/presets/{preset}.yaml"] if preset else [])


def job(files, data, lake, run_id, *extra):
    arguments = [a for f in files for a in ("--config", str(f))]
    return segment.main(arguments + ["--input", str(data), "--lakehouse", str(lake),
                                     "--run-id", run_id, *extra])


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """The four profiles written by the segment job into one lakehouse."""
    folder = tmp_path_factory.mktemp("sources")
    (folder / "hm.csv").write_text(HM)
    (folder / "retail.csv").write_text(ONLINE_RETAIL, encoding="latin-1")
    (folder / "cheques.csv").write_text(PHARMACY)
    exports = folder / "exports"
    exports.mkdir()
    (exports / "block1.csv").write_text(ONEC_A, encoding="cp1251")
    (exports / "block2.csv").write_text(ONEC_B, encoding="cp1251")
    lake = folder / "lake"
    assert job(configs("hm"), folder / "hm.csv", lake, "hm") == 0
    assert job(configs("online_retail", "online_retail"), folder / "retail.csv", lake,
               "retail") == 0
    assert job(configs("pharmacy_cheques", "pharmacy_rfma"), folder / "cheques.csv", lake,
               "pharmacy") == 0
    assert job(configs("onec_export", "sms27"), f"{exports}/*.csv", lake, "onec") == 0
    return Lakehouse(root=str(lake)), folder


def customers(spark, lake, run_id):
    rows = read_table(spark, lake, "rfm_customers").where(f"run_id = '{run_id}'").collect()
    return {r.customer_id: r for r in rows}


def run(spark, lake, run_id):
    return read_table(spark, lake, "rfm_runs").where(f"run_id = '{run_id}'").first()


def rejects(spark, lake, run_id):
    return read_table(spark, lake, "rfm_rejects").where(f"run_id = '{run_id}'").collect()


def test_hm_orders_are_days_and_channels(spark, lake):
    lake, _ = lake
    got = customers(spark, lake, "hm")
    # a: two channels on 2020-09-20 -> 2 orders; the repeated line is a purchase.
    assert {c: (r.frequency, r.monetary, r.recency_days) for c, r in got.items()} == {
        "a": (2, Decimal("0.13"), 2), "b": (1, Decimal("0.02"), 12), "c": (1, Decimal("0.1"), 0)}
    assert run(spark, lake, "hm").dropped_by_reason == {"missing_customer_id": 1}


def test_online_retail_drops_cancellations_and_other_countries(spark, lake):
    lake, _ = lake
    got = customers(spark, lake, "retail")
    # 17850: invoices 536365 (15.30 + 20.34) and 536366 (11.10); 13047: 536367 (54.08).
    assert {c: (r.frequency, r.monetary, r.last_purchase_date) for c, r in got.items()} == {
        "17850": (2, Decimal("46.74"), dt.date(2010, 12, 2)),
        "13047": (1, Decimal("54.08"), dt.date(2010, 12, 1))}
    record = run(spark, lake, "retail")
    assert (record.as_of_date, record.input_rows) == (dt.date(2010, 12, 2), 8)
    assert record.dropped_by_reason == {"cancelled": 2, "country_excluded": 1,
                                        "missing_customer_id": 1}


def test_online_retail_nets_cancellations(spark, lake):
    _, folder = lake
    config = load_config(configs("online_retail", "online_retail"),
                         ["clean.cancellations=net"])
    result = run_segmentation(spark, config, str(folder / "retail.csv"), write=False)
    got = {r.customer_id: r for r in result.customers.collect()}
    # The cancellations subtract (-27.50, -2 x 3.75) but are no invoice and no recency;
    # the as-of date is the last used row's, the cancellation on 2010-12-03.
    assert {c: (r.frequency, r.monetary, r.recency_days) for c, r in got.items()} == {
        "17850": (2, Decimal("19.24"), 1), "13047": (1, Decimal("46.58"), 2)}
    assert (result.as_of, result.valid_rows) == (dt.date(2010, 12, 3), 6)
    netted = [r for r in result.quality if r.scope == "used_netted_cancellations"]
    assert [(r.rows, r.amount) for r in netted] == [(2, Decimal("-35.00"))]


def test_pharmacy_cheques_card_rule_duplicates_and_quality(spark, lake):
    lake, _ = lake
    assert set(customers(spark, lake, "pharmacy")) == {
        "2000000000001", "2000000000002", "2000000000003"}
    assert run(spark, lake, "pharmacy").dropped_by_reason == {
        "unidentified_customer": 1, "missing_customer_id": 1, "duplicate": 1}
    quality = {(r.check, r.scope): r for r in
               read_table(spark, lake, "rfm_quality").where("run_id = 'pharmacy'").collect()}
    # Shop 1: cheques 1, 2 (no card), 6 = 190; shop 2: 3, 4 (no card), 5, 5 (repeat) = 390.
    expected = {("unidentified_rows", "all"): (2, 2 / 7), ("unidentified_amount", "all"): (2, 80 / 580),
                ("unidentified_rows", "store=1"): (1, 1 / 3),
                ("unidentified_amount", "store=1"): (1, 50 / 190),
                ("unidentified_rows", "store=2"): (1, 1 / 4),
                ("unidentified_amount", "store=2"): (1, 30 / 390),
                ("multi_store_customers", "all"): (1, 1 / 3)}
    assert {key: (quality[key].rows, pytest.approx(quality[key].share)) for key in expected} \
        == expected
    assert [key for key, row in quality.items() if row.warning] == [
        ("multi_store_customers", "all")]  # 33% > the profile's 20%
    used = quality[("rows", "used")]
    assert (used.rows, used.amount, used.first_date, used.last_date) == (
        4, Decimal(420), dt.date(2022, 6, 1), dt.date(2022, 6, 5))
    assert quality[("customers", "graded")].rows == 3


def test_onec_export_two_cp1251_blocks_by_glob(spark, lake):
    lake, folder = lake
    got = customers(spark, lake, "onec")
    assert {c: (r.frequency, r.monetary) for c, r in got.items()} == {
        "К001": (2, Decimal("1244.5")), "К002": (1, Decimal("99.9"))}
    by_reason = {r.reason: r for r in rejects(spark, lake, "onec")}
    assert set(by_reason) == {"duplicate", "bad_date"}
    # The overlap is kept from the first block and rejected from the second.
    assert by_reason["duplicate"].source_file.endswith("exports/block2.csv")
    assert '"НомерЧека":"A-2"' in by_reason["duplicate"].raw
    assert run(spark, lake, "onec").input_rows == 5


def test_every_rejected_row_is_in_rfm_rejects_with_its_reason(spark, lake):
    lake, _ = lake
    runs = read_table(spark, lake, "rfm_runs").collect()
    stored = read_table(spark, lake, "rfm_rejects").groupBy("run_id", "reason").count().collect()
    assert {(r.run_id, r.reason): r["count"] for r in stored} == {
        (run.run_id, reason): count for run in runs
        for reason, count in run.dropped_by_reason.items()}
    for run_record in runs:
        assert run_record.input_rows == run_record.valid_rows + sum(
            run_record.dropped_by_reason.values())


def test_a_rule_naming_a_column_the_source_lacks_fails_before_spark(tmp_path, caplog):
    (tmp_path / "cheques.csv").write_text(PHARMACY.replace("doc_id", "cheque"))
    code = job(configs("pharmacy_cheques"), tmp_path / "cheques.csv", tmp_path / "lake", "x",
               "--set", "input.columns.order_id=cheque")
    assert code == 2
    assert "clean.duplicate_key[0]: 'doc_id'" in caplog.text


def test_data_quality_notebook_shows_the_pharmacy_run(spark, lake, monkeypatch, capsys):
    lake, _ = lake
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_LAKEHOUSE", lake.root)
    monkeypatch.setenv("RFM_RUN_ID", "pharmacy")
    namespace = runpy.run_path(str(REPO / "notebooks" / "03_data_quality.py"))
    printed = capsys.readouterr().out
    assert "unidentified_rows store=1" in printed and "duplicate" in printed
    assert "WARNING multi_store_customers (all): 33.3% is over the limit of 20.0%" in printed
    assert namespace["examples"].count() == 3  # one row per reason here
