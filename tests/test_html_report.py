"""The HTML report from fixture runs: the 3 backfilled monthly runs (history), with a
campaign, a churn model and basket rules of the latest run written as hand-made rows
through the lakehouse writers (nothing trained, measured or mined here) and its upgrade
simulation by the simulate job; the job; the segmentation run's `output.report`; and the
page in headless Chromium with the network off."""
import datetime as dt
import re
import runpy
import shutil
from decimal import Decimal
from types import SimpleNamespace

import pytest
from plotly.offline import get_plotlyjs
from pyspark.sql import functions as F

import chromium
from conftest import REPO, plotly_page, run_job as job
from rfm_spark.html_report import SECTIONS, build_report, section_figures
from rfm_spark.jobs import report, segment, simulate
from rfm_spark.lakehouse import Lakehouse, read_table, run_rows, succeeded_runs
from rfm_spark.lakehouse.basket import replace_evaluation, replace_rules
from rfm_spark.lakehouse.churn import write_model
from rfm_spark.tables import (BASKET_EVALUATION, BASKET_RULES, CAMPAIGN_RESULTS, CAMPAIGNS,
                              CHURN_MODELS, RECOMMENDATIONS)

pytestmark = pytest.mark.e2e
ALL_SECTIONS = ("run", "segments", "metrics", "grid", "history", "quality", "campaigns", "churn",
                "basket", "upgrade")
NOW = dt.datetime(2020, 10, 1, 12, 0)


@pytest.fixture(scope="module")
def lake(spark, backfilled, tmp_path_factory):
    """A copy of the backfilled lakehouse, plus a campaign, a churn model, basket rules
    and an upgrade simulation of its latest run."""
    folder = tmp_path_factory.mktemp("report")
    shutil.copytree(backfilled.lake.root, folder / "lake")
    lakehouse = Lakehouse(root=str(folder / "lake"))
    runs = sorted(succeeded_runs(spark, lakehouse).values(), key=lambda r: r.as_of_date)
    latest = runs[-1]
    write_campaign(spark, lakehouse, latest)
    write_churn_model(spark, lakehouse, latest)
    write_basket_rules(spark, lakehouse, latest)
    assert job(simulate.main, "--lakehouse", lakehouse.root, "--run-id", latest.run_id, "--set",
               "simulation.upgrade.scenarios=[{name: low, conversion: 0.2}, "
               "{name: high, conversion: 0.6}]")[0] == 0
    return SimpleNamespace(folder=folder, lakehouse=lakehouse, runs=runs, latest=latest)


def write_campaign(spark, lakehouse, run):
    """rfm_campaigns and rfm_campaign_results rows: a 14-day window measured first and
    a 30-day one measured later, per code, group and in total."""
    codes = [(r.segment_code, r.group) for r in run_rows(spark, lakehouse, "rfm_segments", run)
             .where(F.col("customers") > 0).select("segment_code", "group").collect()]
    record = ("spring", "d1", run.run_id, run.as_of_date, run.as_of_date + dt.timedelta(1),
              NOW, 0.5, 0, "all", 200 * len(codes), 100 * len(codes), 100 * len(codes))
    rows = [result_row(window, level, value, number)
            for window in (14, 30)
            for number, (level, value) in enumerate(
                [("segment_code", code) for code, _ in codes]
                + [("group", group) for group in sorted({g for _, g in codes})]
                + [("total", "all")])]
    for table, data in ((CAMPAIGNS, [record]), (CAMPAIGN_RESULTS, rows)):
        lakehouse.ensure(spark, table, table.layout())
        lakehouse.append(spark.createDataFrame(data, table.ddl(table.layout())), table.name,
                         table.layout())


def result_row(window, level, value, number):
    test, control = 100, 100
    test_rate, control_rate = (number % 7) / 100, 0.01
    lift = test_rate - control_rate
    return ("spring", "d1", window, dt.date(2020, 9, 1), dt.date(2020, 9, window),
            True, NOW + dt.timedelta(minutes=window), level, value, test, control,
            int(test_rate * test), int(control_rate * control), test_rate, control_rate, lift,
            lift - 0.05, lift + 0.05, 0.5, "z", 1.0, Decimal("12.5"), Decimal("2.5"),
            Decimal("10"), 0.1, 0.9, 0.03, None, None, "send" if test_rate > 0.03 else "stop")


def write_churn_model(spark, lakehouse, run):
    """A churn model's row and scores made up from the run's grades (no model is
    trained): churn probability r_grade / 4, value the customer's monetary."""
    curve = [(0.0, 0.0, 0), (0.1, 0.4, 60), (0.4, 0.8, 240), (1.0, 1.0, 600)]
    bins = [(i / 10 + 0.05, i / 10 + 0.04, 60) for i in range(10)]
    metrics = {name: {"roc_auc": auc, "pr_auc": 0.5, "brier": 0.2, "log_loss": 0.6,
                      "top_decile_lift": 2.0, "mean_predicted": 0.3, "observed_rate": 0.3}
               for name, auc in (("gbt", 0.81), ("bgnbd", 0.7), ("segment_rate", 0.65))}
    record = {
        "model_id": "m1", "run_id": run.run_id, "as_of_date": run.as_of_date,
        "trained_at": NOW, "model": "gbt", "label": "drop", "horizon_days": 90,
        "observation_dates": [dt.date(2020, 4, 30), dt.date(2020, 5, 31)],
        "training_rows": 1_200, "validation_rows": 600, "positive_rate": 0.3,
        "sample_weights": {"churned": 1.0, "retained": 1.0}, "metrics": metrics,
        "feature_importances": {"gbt": {"recency_days": 0.5, "orders_90d": 0.3,
                                        "channel_share_1": 0.2}},
        "roc": {"gbt": curve, "bgnbd": curve, "segment_rate": curve},
        "calibration": {"gbt": bins, "bgnbd": bins, "segment_rate": bins},
        "calibration_method": "platt", "bgnbd_r": 0.5,
        "bgnbd_alpha": 3.0, "bgnbd_a": 0.8, "bgnbd_b": 2.0, "bgnbd_log_likelihood": -900.0,
        "bgnbd_standard_errors": [0.1, 0.2, 0.1, 0.3], "gamma_gamma_p": 6.0,
        "gamma_gamma_q": 4.0, "gamma_gamma_v": 15.0, "time_unit_days": 7,
        "model_path": "/nowhere"}
    layout = CHURN_MODELS.layout()
    row = spark.createDataFrame([tuple(record[name] for name, _ in layout)],
                                CHURN_MODELS.ddl(layout))
    band = {1: "low", 2: "medium", 3: "high"}
    churn = F.element_at(F.create_map(*[F.lit(x) for k, v in band.items() for x in (k, v)]),
                         F.col("r_grade"))
    value = F.element_at(F.create_map(*[F.lit(x) for k, v in band.items() for x in (4 - k, v)]),
                         F.col("m_grade"))
    scores = run_rows(spark, lakehouse, "rfm_customers", run).select(
        "run_id", "as_of_date", "customer_id", F.lit("m1").alias("model_id"),
        F.lit(True).alias("eligible"), (F.col("r_grade") / 4).alias("churn_probability"),
        (1 - F.col("r_grade") / 4).alias("p_alive"), F.lit(1.5).alias("expected_purchases"),
        F.lit(10.0).alias("expected_order_value"), F.col("monetary").cast("double").alias("clv"),
        F.col("monetary").cast("double").alias("value"), churn.alias("churn_band"),
        value.alias("value_band"),
        F.concat(value, F.lit(" value, "), churn, F.lit(" risk")).alias("churn_segment"),
        F.lit(None).cast("string").alias("action"))
    write_model(spark, lakehouse, row, scores)


def write_basket_rules(spark, lakehouse, run):
    """Two rules in each of two segments (one with the same lift as the other: the tie
    ranks by confidence) and a holdout's evaluation."""
    def rule(value, antecedent, consequent, both, lift, confidence):
        return (run.run_id, run.as_of_date, "segment", value, antecedent, consequent, 40,
                30, both, 400, both / 400, confidence, lift, 1.2, 1e-6, 1e-5)
    rules = [rule("Champions", ["a1"], ["b1"], 24, 8.0, 0.6),
             rule("Champions", ["a1", "c1"], ["d1"], 12, 8.0, 0.3),
             rule("At Risk", ["e1"], ["f1"], 10, 3.5, 0.25)]
    replace_rules(spark, lakehouse, frame(spark, BASKET_RULES, rules), run.run_id, "segment",
                  frame(spark, RECOMMENDATIONS, []))
    evaluation = [(run.run_id, run.as_of_date, "segment", "Champions", 30,
                   run.as_of_date - dt.timedelta(30), 50, 10, 0.2, 200, 12, 0.06, 0.1)]
    replace_evaluation(spark, lakehouse, frame(spark, BASKET_EVALUATION, evaluation),
                       run.run_id, "segment", 30)


def frame(spark, table, rows):
    return spark.createDataFrame(rows, table.ddl(table.layout()))


@pytest.fixture(scope="module")
def written(spark, lake):
    """The job's report of the latest run, where it writes it by default."""
    code, printed = job(report.main, "--lakehouse", lake.lakehouse.root)
    assert code == 0
    return SimpleNamespace(printed=printed,
                           path=lake.folder / f"rfm_report_{lake.latest.run_id}.html")


def outside_plotly_js(html: str) -> str:
    assert html.count(get_plotlyjs()) == 1  # plotly.js inlined exactly once
    return html.replace(get_plotlyjs(), "")


def test_the_latest_run_shows_every_section_in_one_offline_file(lake, written):
    html = written.path.read_text()
    rest = outside_plotly_js(html)
    assert tuple(re.findall(r"<section id='(\w+)'", rest)) == ALL_SECTIONS
    # Nothing refers outside the file: no address, no loaded script, style or font.
    assert not re.search(r"https?://|<link|@import|url\(|\ssrc=", rest)
    assert len(html) < 10_000_000
    # Every chart's toolbar without plotly's "Share chart..." (upload to its cloud).
    charts = len(re.findall(r"Plotly\.newPlot\(", rest))
    assert charts > 10 and rest.count('"showSendToCloud": false') == charts
    assert [m for m in re.findall(r"Plotly\.newPlot\(\s*\"([\w-]+)\"", rest)][:2] == [
        "run-2", "segments-1"]
    assert re.search(r"<th>rows read</th><td>\d{1,3}(,\d{3})+</td>", rest)  # 12,345
    # The preset: what the run's config was layered from (conftest's backfilled).
    assert f"<th>config built from</th><td>{REPO}/conf/default.yaml, command line</td>" in rest
    assert "30-day window" in rest and "14-day window" not in rest  # the latest window
    assert "Since the previous run" in rest and lake.runs[-2].run_id in rest
    # Basket rules: the strongest first, a tie in lift ranked by confidence.
    assert rest.index("<td>a1 -&gt; b1</td>") < rest.index("<td>a1, c1 -&gt; d1</td>")
    assert "<td>e1 -&gt; f1</td>" in rest
    assert re.search(r"<td>Champions</td><td class='number'>30</td><td class='number'>50</td>"
                     r"<td class='number'>20.0%</td>", rest)  # the holdout's hit rate
    # The upgrade steps from the lowest tier (grade 3 of the default grading) up.
    assert re.search(r"<td>low</td><td>3 -&gt; 2</td>.*<td>low</td><td>2 -&gt; 1</td>", rest)


def test_the_report_is_built_for_the_latest_run_by_default(spark, lake):
    built = build_report(spark, lake.lakehouse, sections=[SECTIONS[0]])
    assert (built.run_id, built.sections) == (lake.latest.run_id, ("run",))


def test_the_charts_count_every_customer_once(spark, lake):
    customers = read_table(spark, lake.lakehouse, "rfm_runs").where(
        F.col("run_id") == lake.latest.run_id).first().customers
    charts = dict(section_figures(spark, lake.lakehouse, None, ["metrics", "grid"]))
    histograms = [charts[f"metrics_{n}"] for n in (1, 2, 3)]
    assert [sum(n for _, n in figure.data[0].customdata) for figure in histograms] == [
        customers] * 3
    grid = charts["grid_1"].data[0]
    assert sum(int(text.split(" ")[0].replace(",", "")) for row in grid.text
               for text in row if text) == customers


def test_the_job_writes_beside_the_lakehouse_and_prints_the_path(spark, lake, written,
                                                                 tmp_path):
    assert written.printed.strip() == f"report: {written.path}"
    output = tmp_path / "reports" / "first.html"
    code, printed = job(report.main, "--lakehouse", lake.lakehouse.root, "--run-id",
                        lake.runs[0].run_id, "--output", str(output))
    assert code == 0 and printed.strip() == f"report: {output}"
    assert re.findall(r"<section id='(\w+)'", output.read_text()) == [
        "run", "segments", "metrics", "grid", "quality"]


@pytest.mark.parametrize("arguments, message", [
    (["--run-id", "nope"], "no succeeded run 'nope'"),
    (["--run-id", "bad id!"], "run id 'bad id!'"),
    (["--output", "s3a://bucket/report.html"], "give a local path"),
])
def test_the_job_refuses_what_it_cannot_report(spark, lake, caplog, arguments, message):
    assert job(report.main, "--lakehouse", lake.lakehouse.root, *arguments)[0] == 2
    assert message in caplog.text


def test_the_job_refuses_a_lakehouse_without_runs(spark, tmp_path, caplog):
    assert job(report.main, "--lakehouse", str(tmp_path / "empty"))[0] == 2
    assert "no such Delta table (no run was written here)" in caplog.text


@pytest.mark.connect
def test_a_segmentation_run_with_output_report_writes_it_last(spark, golden, tmp_path):
    lake = tmp_path / "lake"
    code, printed = job(segment.main, "--config", str(REPO / "conf/default.yaml"), "--input",
                        golden, "--lakehouse", str(lake), "--set", "output.report=true")
    assert code == 0
    last = printed.strip().splitlines()[-1]
    run_id = re.search(r"run (\S+) \(as of", printed).group(1)
    assert last == f"report: {tmp_path / f'rfm_report_{run_id}.html'}"
    html = (tmp_path / f"rfm_report_{run_id}.html").read_text()
    assert re.findall(r"<section id='(\w+)'", html) == ["run", "segments", "metrics", "grid",
                                                         "quality"]


@pytest.fixture
def browser(tmp_path):
    reason = chromium.missing()
    if reason:
        pytest.skip(reason)
    with chromium.headless_chromium(tmp_path / "profile") as driver:
        yield driver


def test_the_browser_checks_see_a_request_and_a_console_error(browser, tmp_path):
    """The checks below can fail: a page that asks the network and logs an error."""
    page = tmp_path / "leaky.html"
    page.write_text("<div class='js-plotly-plot'><svg class='main-svg'></svg></div>"
                    "<img src='https://example.com/x.png'>"
                    "<script>console.error('broken')</script>")
    assert chromium.open_offline(browser, page) == ["https://example.com/x.png"]
    assert any("broken" in message for message in chromium.console_errors(browser))


def test_every_section_renders_in_chromium_offline(written, browser, tmp_path):
    page = tmp_path / "report.html"
    shutil.copy(written.path, page)
    assert chromium.open_offline(browser, page) == []  # no request was attempted
    assert chromium.console_errors(browser) == []
    rendered = browser.execute_script(
        "return [...document.querySelectorAll('section')].map(s => [s.id,"
        " s.querySelectorAll('.js-plotly-plot').length,"
        " [...s.querySelectorAll('.js-plotly-plot')]"
        "   .filter(plot => plot.querySelector('svg.main-svg')).length]);")
    assert [section for section, _, _ in rendered] == list(ALL_SECTIONS)
    for section, plots, drawn in rendered:
        assert plots >= 1 and drawn == plots, section
    buttons, share = browser.execute_script(  # the toolbars are drawn, shown on hover
        "return [document.querySelectorAll('.modebar-btn').length,"
        " document.querySelectorAll('.modebar-btn[data-title^=\"Share chart\"]').length];")
    assert buttons > 0 and share == 0
    shots = [chromium.screenshot(browser, tmp_path / "report.png")]
    shots += [chromium.screenshot(browser, tmp_path / f"{key}.png", f"#{key}")
              for key in ALL_SECTIONS]
    assert all(shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
               for shot in shots)


def test_the_basket_notebook_draws_the_reports_rules_and_upgrade_charts(spark, lake, monkeypatch,
                                                                      capsys, tmp_path):
    monkeypatch.chdir(REPO / "notebooks")
    monkeypatch.setenv("RFM_LAKEHOUSE", lake.lakehouse.root)
    monkeypatch.setenv("RFM_REPORT_DIR", str(tmp_path))
    namespace = runpy.run_path(str(REPO / "notebooks" / "06_basket.py"))
    assert namespace["run_id"] == lake.latest.run_id
    # The rules per segment and the uplift per step, in one page: plotly.js once.
    html = plotly_page(tmp_path / f"basket_{lake.latest.run_id}.html", 2)
    assert "Strongest cross-sell rules per segment" in html and "Champions: a1" in html
    assert "scenario low" in html and "scenario high" in html
    printed = capsys.readouterr().out
    assert "a1" in printed and "Champions" in printed and "low" in printed


def test_a_run_written_before_its_config_sources_were_recorded_shows_them_unknown(lake,
                                                                                 spark):
    from rfm_spark.html_report.context import report_context
    from rfm_spark.html_report.run_sections import run_blocks
    from rfm_spark.session import Caches
    with Caches(spark) as cache:
        ctx = report_context(spark, lake.lakehouse, None, cache)
        del ctx.record["config_sources"]  # a table without the column
        facts = run_blocks(ctx)[0]
    assert "<th>config built from</th><td>unknown (written before" in facts
