"""A campaign end to end through the jobs: segment generated data, assign, add
post-campaign purchases with a planted lift, measure, and the notebook."""
import csv
import datetime as dt
import runpy
from types import SimpleNamespace

import pytest
from pyspark.sql import functions as F

from conftest import REPO, plotly_page, run_job as job
from rfm_spark.jobs import campaign, generate, segment
from rfm_spark.lakehouse import Lakehouse, read_table, stored

pytestmark = pytest.mark.e2e
DEFAULT = str(REPO / "conf/default.yaml")
PLANTED = {"Sleeping frequent": 0.12}
BASE_RESPONSE = 0.04


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    """Generated H&M-shaped CSV files and one run of them."""
    folder = tmp_path_factory.mktemp("campaign")
    data, root = str(folder / "transactions"), str(folder / "lake")
    assert job(generate.main, "--output", data, "--rows", "20000", "--customers", "6000",
               "--seed", "9")[0] == 0
    assert job(segment.main, "--config", DEFAULT, "--input", data, "--lakehouse", root)[0] == 0
    run = read_table(spark, Lakehouse(root=root), "rfm_runs").first()
    return SimpleNamespace(data=data, root=root, lakehouse=Lakehouse(root=root),
                           run_id=run.run_id, as_of=run.as_of_date, folder=folder)


@pytest.fixture(scope="module")
def assigned(spark, lake):
    export = lake.folder / "send.csv"
    code, printed = job(campaign.main, "assign", "--lakehouse", lake.root, "--run-id",
                        lake.run_id, "--campaign-id", "spring", "--seed", "3", "--export",
                        str(export))
    assert code == 0, printed
    return SimpleNamespace(printed=printed, export=export,
                           record=read_table(spark, lake.lakehouse, "rfm_campaigns").first())


@pytest.fixture(scope="module")
def measured(spark, lake, assigned):
    """Responses with a planted lift added to the input's folder, then measured."""
    lifts = [f"--lift={name}={lift}" for name, lift in PLANTED.items()]
    assert job(generate.main, "--output", lake.data, "--campaign-id", "spring", "--lakehouse",
               lake.root, "--base-response", str(BASE_RESPONSE), *lifts, "--seed", "4")[0] == 0
    code, printed = job(campaign.main, "measure", "--lakehouse", lake.root, "--campaign-id",
                        "spring", "--config", DEFAULT, "--input", lake.data)
    assert code == 0, printed
    results = read_table(spark, lake.lakehouse, "rfm_campaign_results")
    return SimpleNamespace(printed=printed, rows={(r.level, r.value): r for r in
                                                  results.collect()})


@pytest.mark.connect
def test_assign_splits_every_cell_and_exports_only_the_test_arm(spark, lake, assigned):
    record = assigned.record
    assert (record.run_id, record.selection, record.seed) == (lake.run_id, "all", 3)
    assert str(record.start_date) == str(lake.as_of + dt.timedelta(days=1))
    customers = read_table(spark, lake.lakehouse, "rfm_customers")
    assert record.members == customers.count() == record.test_members + record.control_members
    members = read_table(spark, lake.lakehouse, "rfm_campaign_members")
    per_cell = {(r.segment_code, r.arm): r["count"]
                for r in members.groupBy("segment_code", "arm").count().collect()}
    for code in {code for code, _ in per_cell}:
        n = per_cell.get((code, "test"), 0) + per_cell.get((code, "control"), 0)
        assert per_cell.get((code, "control"), 0) == int(n * 0.5 + 0.5)  # half up
    with open(assigned.export, newline="") as file:
        exported = list(csv.DictReader(file))
    assert list(exported[0]) == ["customer_id", "segment", "segment_action"]
    control = {r.customer_id for r in members.where("arm = 'control'").collect()}
    assert len(exported) == record.test_members and not control & {r["customer_id"]
                                                                    for r in exported}
    assert f"{record.members:,} members" in assigned.printed


def test_campaign_tables_hold_exactly_their_declared_columns(spark, lake, measured):
    from rfm_spark.tables import CAMPAIGN_TABLES
    for table in CAMPAIGN_TABLES:
        stored_layout = [(f.name, f.dataType.simpleString())
                         for f in lake.lakehouse.read(spark, table.name).schema.fields]
        assert stored_layout == list(table.layout()), table.name


@pytest.mark.connect
def test_the_planted_lift_is_inside_the_planted_intervals_and_zero_elsewhere(spark, lake,
                                                                             measured):
    rows = measured.rows
    for name, lift in PLANTED.items():
        found = rows[("segment", name)]
        assert found.lift_ci_low <= lift <= found.lift_ci_high
        assert found.lift_ci_low > 0 and found.decision == "send"
    segment_of = {r.segment_code: r.segment for r in read_table(
        spark, lake.lakehouse, "rfm_campaign_members").select("segment_code", "segment")
        .distinct().collect()}
    cells = {value: r for (level, value), r in rows.items()
             if level == "segment_code" and r.lift is not None}
    planted = [r for code, r in cells.items() if segment_of[code] in PLANTED]
    others = [r for code, r in cells.items() if segment_of[code] not in PLANTED]
    assert planted and all(r.lift_ci_low <= PLANTED[segment_of[r.value]] <= r.lift_ci_high
                           for r in planted)
    holding_zero = [r for r in others if r.lift_ci_low <= 0 <= r.lift_ci_high]
    assert len(others) >= 10 and len(holding_zero) >= 0.9 * len(others)
    assert all(r.control_response_rate == pytest.approx(BASE_RESPONSE, abs=0.05)
               for r in cells.values() if r.control_customers > 300)
    total = rows[("total", "all")]
    assert total.lift_ci_low > 0 and total.window_complete
    assert (total.test_customers + total.control_customers
            == read_table(spark, lake.lakehouse, "rfm_campaigns").first().members)
    assert "Sleeping frequent" in measured.printed and "decision" in measured.printed


def test_the_same_campaign_again_changes_nothing_other_arguments_need_force(spark, lake,
                                                                          assigned):
    arguments = ["assign", "--lakehouse", lake.root, "--run-id", lake.run_id,
                 "--campaign-id", "spring", "--seed", "3"]
    code, printed = job(campaign.main, *arguments)
    assert code == 0 and "(unchanged)" in printed
    assert read_table(spark, lake.lakehouse, "rfm_campaigns").first().draw_id == \
        assigned.record.draw_id
    code, _ = job(campaign.main, *arguments[:-1], "4")
    assert code == 2
    code, _ = job(campaign.main, *arguments[:-2], "--campaign-id", "autumn",
                  "--group", "Sleeping", "--control-share", "0.2")
    assert code == 0
    autumn = read_table(spark, lake.lakehouse, "rfm_campaigns").where("campaign_id = 'autumn'")
    first = autumn.first()
    assert (first.selection, first.control_share) == ("group: Sleeping", 0.2)
    assert job(campaign.main, *arguments[:-4], "--campaign-id", "autumn", "--group", "Sleeping",
               "--control-share", "0.3", "--force")[0] == 0
    redrawn = autumn.first()
    assert redrawn.draw_id != first.draw_id and redrawn.control_share == 0.3
    kept = stored(spark, lake.lakehouse, "rfm_campaign_members").where(
        "campaign_id = 'autumn'").select("draw_id").distinct().collect()
    assert [r.draw_id for r in kept] == [redrawn.draw_id]  # the old draw is deleted


def test_the_same_window_again_replaces_its_rows_another_window_adds(spark, lake, measured):
    arguments = ["measure", "--lakehouse", lake.root, "--campaign-id", "spring", "--config",
                 DEFAULT, "--input", lake.data]
    before = read_table(spark, lake.lakehouse, "rfm_campaign_results").count()
    assert job(campaign.main, *arguments)[0] == 0
    assert job(campaign.main, *arguments, "--window-days", "400")[0] == 0
    results = read_table(spark, lake.lakehouse, "rfm_campaign_results")
    assert results.where("window_days = 30").count() == before
    longer = results.where("window_days = 400")
    assert longer.count() == before
    assert not longer.first().window_complete  # the input ends before 400 days
    assert {r.measured_through for r in longer.collect()} == {
        stored(spark, lake.lakehouse, "rfm_campaigns").where("campaign_id = 'spring'")
        .first().start_date + dt.timedelta(days=29)}


@pytest.mark.parametrize("arguments, message", [
    (["assign", "--run-id", "no-such-run", "--campaign-id", "x"], "no succeeded run 'no-such-run'"),
    (["assign", "--run-id", "{run}", "--campaign-id", "x", "--control-share", "1"],
     "control share 1.0: give a number strictly between 0 and 1"),
    (["assign", "--run-id", "{run}", "--campaign-id", "x", "--segment", "Champions"],
     "--segment 'Champions': the run has no such segment"),
    (["measure", "--campaign-id", "nope", "--config", DEFAULT, "--input", "{data}"],
     "no campaign 'nope'"),
    (["measure", "--campaign-id", "spring", "--config", DEFAULT, "--input", "{data}",
      "--window-days", "0"], "window of 0 days"),
    (["migration", "--campaign-id", "spring", "--to-run", "{run}"], "is not later than"),
])
def test_bad_arguments_are_refused_before_anything_is_written(spark, lake, assigned, caplog,
                                                              arguments, message):
    before = {table: stored(spark, lake.lakehouse, table).count()
              for table in ("rfm_campaigns", "rfm_campaign_members", "rfm_campaign_results")}
    filled = [a.format(run=lake.run_id, data=lake.data) for a in arguments]
    code, _ = job(campaign.main, filled[0], "--lakehouse", lake.root, *filled[1:])
    assert code == 2 and message in caplog.text
    assert before == {table: stored(spark, lake.lakehouse, table).count() for table in before}


def test_an_input_without_purchases_after_the_start_is_a_failed_job(spark, lake, assigned,
                                                                    tmp_path, caplog):
    early = tmp_path / "early.csv"
    early.write_text("t_dat,customer_id,article_id,price,sales_channel_id\n"
                     "2019-01-01,c1,1,0.5,1\n")
    code, _ = job(campaign.main, "measure", "--lakehouse", lake.root, "--campaign-id",
                  "spring", "--config", DEFAULT, "--input", str(early))
    assert code == 1
    assert "no used purchase on or after the campaign's start date" in caplog.text


def test_migration_by_arm_to_a_later_run(spark, lake, measured):
    later = lake.as_of + dt.timedelta(days=30)
    assert job(segment.main, "--config", DEFAULT, "--input", lake.data, "--lakehouse",
               lake.root, "--as-of", str(later), "--run-id", "after-spring")[0] == 0
    code, printed = job(campaign.main, "migration", "--lakehouse", lake.root, "--campaign-id",
                        "spring", "--to-run", "after-spring")
    assert code == 0
    assert "test arm" in printed and "control arm" in printed and "Sleeping frequent" in printed
    from rfm_spark.campaigns import campaign_migration
    moves = campaign_migration(spark, lake.lakehouse, "spring", "after-spring")
    by_arm = {r.arm: r.customers for r in moves.where("level = 'segment'").groupBy("arm")
              .agg(F.sum("customers").alias("customers")).collect()}
    record = read_table(spark, lake.lakehouse, "rfm_campaigns").where(
        "campaign_id = 'spring'").first()
    assert by_arm == {"test": record.test_members, "control": record.control_members}
    # Responders bought in the window, so their recency is now the best grade: the
    # planted segment's (codes 21*) test members move to R = 1 more than its control.
    planted = moves.where("level = 'segment_code' AND from_value LIKE '21%'")
    moved = {r.arm: r.moved / r.members for r in planted.groupBy("arm").agg(
        F.sum("customers").alias("members"),
        F.sum(F.when(F.col("to_value").startswith("1"), F.col("customers"))).alias("moved"))
        .collect()}
    assert moved["test"] - moved["control"] > PLANTED["Sleeping frequent"] / 2


@pytest.mark.connect
def test_the_campaign_notebook_runs_locally(spark, lake, measured, monkeypatch, tmp_path,
                                            capsys):
    monkeypatch.chdir(REPO / "notebooks")
    for name, value in {"LAKEHOUSE": lake.root, "RUN_ID": lake.run_id,
                        "CAMPAIGN_ID": "spring", "SEED": "3", "INPUT": lake.data,
                        "REPORT_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(f"RFM_{name}", value)
    monkeypatch.setenv("RFM_CONFIG", DEFAULT)
    namespace = runpy.run_path(str(REPO / "notebooks" / "04_campaigns.py"))
    assert namespace["campaign"].drawn is False  # the same arguments: the stored draw
    printed = capsys.readouterr().out
    assert "Sleeping frequent" in printed and "send list:" in printed
    # Response and lift in one page, the planted cell among their cells.
    html = plotly_page(tmp_path / "campaign_spring.html", 2)
    assert "Sleeping frequent" in html and "Lift per cell" in html
