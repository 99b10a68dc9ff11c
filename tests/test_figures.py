"""The charts from small hand-made rows (no Spark): what each draws where, and the
numbers people read in it."""
import datetime as dt
import math
from types import SimpleNamespace as Row

import pytest

from rfm_spark import figures
from rfm_spark.aggregates import BELOW_FIRST_EDGE, Bins
from rfm_spark.quality import QualityRow
from rfm_spark.report import TransitionMatrix

D = dt.date


def test_rows_go_to_used_and_each_reason_with_counts_and_shares():
    figure = figures.rows_figure(12_000, 10_800, {"bad_date": 200, "duplicate": 1_000})
    assert [t.name for t in figure.data] == ["used: 10,800 (90.0%)", "duplicate: 1,000 (8.3%)",
                                            "bad_date: 200 (1.7%)"]
    assert sum(t.x[0] for t in figure.data) == 12_000


def test_the_treemap_adds_segments_up_to_their_group_and_leaves_empty_ones_out():
    figure = figures.segment_treemap_figure([
        Row(group="Active", segment="VIP", customers=1_200, share=0.12, monetary_share=0.5),
        Row(group="Active", segment="New", customers=0, share=0.0, monetary_share=None),
        Row(group="Gone", segment="Lost", customers=8_800, share=0.88, monetary_share=0.5)])
    tree = figure.data[0]
    assert list(tree.labels) == ["Active", "VIP", "Gone", "Lost"]
    assert list(tree.values) == [1_200, 1_200, 8_800, 8_800]
    assert list(tree.parents) == ["", "group/Active", "", "group/Gone"]
    # Colour: log2 of share of money over share of customers (x4.17 and x0.57).
    assert list(tree.marker.colors) == pytest.approx([math.log2(0.5 / 0.12)] * 2
                                                     + [math.log2(0.5 / 0.88)] * 2)
    assert "%{value:,} customers" in tree.texttemplate and ":.1%" in tree.texttemplate


def test_treemap_groups_and_segments_share_one_scale_that_no_group_saturates():
    figure = figures.segment_treemap_figure([
        Row(group="Active", segment="VIP", customers=100, share=0.1, monetary_share=0.4),
        Row(group="Active", segment="Loyal", customers=400, share=0.4, monetary_share=0.4),
        Row(group="Gone", segment="Lost", customers=500, share=0.5, monetary_share=0.2)])
    tree = figure.data[0]
    colours = dict(zip(tree.labels, tree.marker.colors))
    assert colours["Active"] == pytest.approx(math.log2(0.8 / 0.5))  # the group's own index
    assert colours["Loyal"] < colours["Active"] < colours["VIP"]
    assert all(tree.marker.cmin <= c <= tree.marker.cmax for c in tree.marker.colors)
    assert tree.marker.cmin == -tree.marker.cmax  # x1, the average, in the middle
    bar = tree.marker.colorbar
    assert bar.ticktext[list(bar.tickvals).index(0)] == "x1"
    assert "share of money over share of customers" in figure.layout.title.text


def test_a_bin_per_value_centres_bars_on_values_and_cuts_between_them():
    bins = Bins((1.0, 2.0, 3.0, 4.0, 5.0), unit=True, integral=True)
    figure = figures.metric_histogram_figure("frequency", "orders", bins, {0: 1_500, 2: 7},
                                             [1.0, 3.0], "right,left")
    bars, *cuts = figure.data
    assert list(bars.x) == [1.0, 2.0, 3.0, 4.0] and list(bars.y) == [1_500, 0, 7, 0]
    assert [list(c) for c in bars.customdata] == [["1 orders", 1_500], ["2 orders", 0],
                                                  ["3 orders", 7], ["4 orders", 0]]
    # "<= 1": 1 is in the lower grade, the line after its bar; "< 3": 3 is above the line
    assert [c.x[0] for c in cuts] == [1.5, 2.5]
    assert "%{customdata[1]:,} customers" in bars.hovertemplate


def test_ranges_of_integers_cut_at_the_first_value_of_the_upper_grade():
    bins = Bins((0.0, 19.0, 38.0, 57.0), integral=True)
    figure = figures.metric_histogram_figure("recency", "days", bins, {1: 3}, [30.0])
    bars, cut = figure.data
    assert [label for label, _ in bars.customdata] == ["0 to 18 days", "19 to 37 days",
                                                       "38 to 56 days"]
    assert list(bars.y) == [0, 3, 0]
    assert cut.x[0] == 31.0  # 30 days is in the lower grade


def test_log_bins_draw_on_a_log_axis_with_values_below_the_first_edge_on_the_left():
    bins = Bins((0.1, 1.0, 10.0, 100.0, 1_000.0), log=True)
    figure = figures.metric_histogram_figure("monetary", "spend", bins,
                                             {BELOW_FIRST_EDGE: 4, 0: 1, 3: 2}, [5.0])
    bars, cut = figure.data
    assert list(bars.y) == [4, 1, 0, 0, 2]
    assert list(bars.customdata[0]) == ["0 or less spend", 4]
    assert [round(x, 6) for x in bars.x] == [-1.5, -0.5, 0.5, 1.5, 2.5]
    assert math.isclose(cut.x[0], math.log10(5.0))
    assert "1,000" in figure.layout.xaxis.ticktext and "log scale" in \
        figure.layout.xaxis.title.text


def test_log_bins_of_integers_are_drawn_per_value():
    bins = Bins((1.0, 2.0, 4.0, 8.0), log=True, integral=True)
    figure = figures.metric_histogram_figure("frequency", "orders", bins, {0: 90, 1: 60, 2: 40})
    bars = figure.data[0]
    assert list(bars.y) == [90, 30, 10]  # 60 customers over 2 and 3 orders; 40 over 4 to 7
    assert [list(c) for c in bars.customdata] == [["1 orders", 90], ["2 to 3 orders", 60],
                                                  ["4 to 7 orders", 40]]
    assert figure.layout.yaxis.title.text == "customers per value"


def test_the_grade_grid_colours_cells_by_mean_money_grade_1_on_top():
    figure = figures.grade_grid_figure([
        Row(row=1, column=1, customers=1_234, mean_monetary=55.5),
        Row(row=2, column=2, customers=3, mean_monetary=5.0)])
    heatmap = figure.data[0]
    assert [list(r) for r in heatmap.z] == [[55.5, None], [None, 5.0]]
    assert heatmap.text[0][0] == "1,234 customers<br>mean 55.50"
    assert figure.layout.yaxis.autorange == "reversed"
    # Thousands separators and no exponent (",.3~g" drew 12,345 as 1.23e+4).
    assert heatmap.colorbar.tickformat == ",.2~f"
    small = figures.grade_grid_figure([Row(row=1, column=1, customers=3, mean_monetary=0.0123)])
    assert small.data[0].colorbar.tickformat == ",.3~g"


MATRIX = TransitionMatrix("group", ["A", "B", "(new)"], ["A", "B", "(gone)"],
                          {("A", "A"): 1_200, ("A", "B"): 300, ("B", "(gone)"): 5,
                           ("(new)", "A"): 7})


def test_the_migration_heatmap_shows_counts_and_row_shares():
    heatmap = figures.migration_heatmap_figure(MATRIX, "r1", "r2").data[0]
    assert [list(r) for r in heatmap.z] == [[0.8, 0.2, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    assert list(heatmap.text[0]) == ["1,200<br>80.0%", "300<br>20.0%", ""]


def test_the_sankey_links_each_move_with_customers():
    sankey = figures.migration_sankey_figure(MATRIX, "r1", "r2").data[0]
    assert list(sankey.node.label) == ["A", "B", "(new)", "A", "B", "(gone)"]
    assert sorted(zip(sankey.link.source, sankey.link.target, sankey.link.value)) == [
        (0, 3, 1_200), (0, 4, 300), (1, 5, 5), (2, 3, 7)]
    colours = list(sankey.node.color)
    assert colours[0] == colours[3] and colours[2] == colours[5] == figures.GREY


def test_fill_dynamics_stack_each_groups_customers_by_date():
    rows = [Row(as_of_date=D(2020, m, 1), value=v, customers=n, share=n / 10)
            for m, v, n in [(6, "A", 4), (6, "B", 6), (7, "B", 10)]]
    traces = figures.fill_dynamics_figure(rows).data
    assert [(t.name, list(t.y)) for t in traces] == [("A", [4, 0]), ("B", [6, 10])]
    assert {t.stackgroup for t in traces} == {"customers"}


def test_threshold_drift_has_a_panel_per_metric_in_code_order_and_a_line_per_cut():
    rows = [Row(metric=m, as_of_date=D(2020, mo, 1), cut_points=cuts)
            for m, mo, cuts in [("monetary", 6, [1.0]), ("recency", 6, [10.0, 50.0]),
                                ("recency", 7, [12.0, 50.0]), ("monetary", 7, [2.0])]]
    figure = figures.threshold_drift_figure(rows, {"recency": "days", "monetary": "spend"})
    assert [a.text for a in figure.layout.annotations] == ["recency (days)", "monetary (spend)"]
    assert [(t.name, list(t.y)) for t in figure.data] == [
        ("cut 1", [10.0, 12.0]), ("cut 2", [50.0, 50.0]), ("cut 1", [1.0, 2.0])]


def test_threshold_drift_hovers_big_cut_points_with_separators_not_exponents():
    rows = [Row(metric="monetary", as_of_date=D(2020, 6, 1), cut_points=[12_345.0, 0.0125])]
    cut_1, cut_2 = figures.threshold_drift_figure(rows, {}).data
    assert (list(cut_1.customdata), list(cut_2.customdata)) == (["12,345"], ["0.0125"])
    assert "%{customdata}" in cut_1.hovertemplate and "~g" not in cut_1.hovertemplate


def test_no_rejected_row_says_so():
    report = [QualityRow("rows", "read", 10), QualityRow("rows", "used", 10)]
    figure = figures.reject_reasons_figure(report)
    assert not figure.data and figure.layout.annotations[0].text == "No row was rejected."


def test_rejects_and_unidentified_stores_with_the_limit():
    report = [QualityRow("rows", "read", 2_000), QualityRow("rows", "bad_date", 1_500, None, 0.75),
              QualityRow("rows", "rejected", 1_500, None, 0.75, 0.05, True),
              QualityRow("unidentified_rows", "all", 10, None, 0.005, 0.5),
              QualityRow("unidentified_rows", "store=2", 9, None, 0.9, 0.5, True),
              QualityRow("unidentified_rows", "store=1", 1, None, 0.001, 0.5)]
    bars = figures.reject_reasons_figure(report).data[0]
    assert list(bars.y) == ["bad_date"] and list(bars.text) == ["1,500 (75.00%)"]
    figure = figures.unidentified_figure(report)
    bars = figure.data[0]
    assert list(bars.y) == ["store=1", "store=2", "all"]  # highest share on top
    assert list(bars.marker.color) == [figures.PALETTE[0], figures.CUT_COLOUR, figures.PALETTE[0]]
    assert figure.layout.shapes[0].x0 == 0.5


CELLS = [Row(value="111", test_response_rate=0.08, control_response_rate=0.02,
             test_responders=8, control_responders=2, test_customers=100,
             control_customers=100, min_response=0.03, lift=0.06, lift_ci_low=0.01,
             lift_ci_high=0.12, p_value_adjusted=0.04, decision="send"),
         Row(value="333", test_response_rate=0.01, control_response_rate=0.01,
             test_responders=1, control_responders=1, test_customers=100,
             control_customers=100, min_response=0.03, lift=0.0, lift_ci_low=-0.05,
             lift_ci_high=0.05, p_value_adjusted=1.0, decision="stop")]


def test_campaign_response_per_cell_with_the_3_percent_line():
    figure = figures.campaign_response_figure(CELLS, {"111": "VIP"}, "spring")
    test, control = figure.data
    assert list(test.x) == ["111 VIP", "333"] and list(test.y) == [0.08, 0.01]
    assert list(control.y) == [0.02, 0.01]
    assert figure.layout.shapes[0].y0 == 0.03


def test_campaign_lift_per_cell_with_its_interval_by_decision():
    figure = figures.campaign_lift_figure(CELLS, {}, "spring")
    send, stop = figure.data
    assert (send.name, list(send.x), list(stop.x)) == ("send", ["111"], ["333"])
    # In percentage points, as the axis title and ticks say: 0.06 is +6.0 pp.
    assert send.y[0] == pytest.approx(6.0)
    assert send.error_y.array[0] == pytest.approx(6.0)        # 12 - 6
    assert send.error_y.arrayminus[0] == pytest.approx(5.0)   # 6 - 1
    assert "percentage points" in figure.layout.yaxis.title.text
    assert (figure.layout.yaxis.tickformat, figure.layout.yaxis.ticksuffix) == ("+.1f", " pp")


def test_basket_rules_draw_lift_beside_the_populations_strongest_first_on_top():
    rules = [Row(value="VIP", antecedent=["a"], consequent=["b"], lift=8.0, population_lift=1.5,
                 baskets=24, confidence=0.6, p_value_adjusted=1e-6),
             Row(value="Lost", antecedent=["c", "d"], consequent=["e"], lift=2.5,
                 population_lift=2.4, baskets=9, confidence=0.2, p_value_adjusted=0.03)]
    figure = figures.basket_rules_figure(rules, "segment")
    bars, dots = figure.data
    assert list(bars.y) == ["VIP: a -> b", "Lost: c, d -> e"] and list(bars.x) == [8.0, 2.5]
    assert list(dots.x) == [1.5, 2.4]
    assert list(figure.layout.yaxis.categoryarray) == ["Lost: c, d -> e", "VIP: a -> b"]
    assert "segment" in figure.layout.title.text


def test_upgrade_uplift_has_a_bar_per_scenario_and_a_gap_where_a_step_has_no_row():
    def step(scenario, low, uplift):
        return Row(scenario=scenario, from_grade=low, to_grade=low + 1, candidates=10,
                   conversion_rate=0.5, expected_upgrades=5.0, uplift_share=0.01,
                   expected_uplift=uplift)
    figure = figures.upgrade_uplift_figure([step("003", 1, 0), step("003", 2, 1_250.5),
                                            step("all", 2, 300)])
    assert [t.name for t in figure.data] == ["scenario 003", "scenario all"]
    assert list(figure.data[0].x) == ["tier 1 -> 2", "tier 2 -> 3"]
    assert list(figure.data[0].y) == [0.0, 1_250.5] and list(figure.data[1].y) == [None, 300.0]
    assert figure.layout.yaxis.tickformat == ",.0f"


def test_upgrade_steps_go_from_the_lowest_tier_up_at_either_end_of_the_grades():
    def steps(*pairs):
        return figures.upgrade_steps([Row(from_grade=a, to_grade=b) for a, b in pairs])
    assert steps((2, 1), (3, 2)) == [(3, 2), (2, 1)]
    assert steps((2, 3), (1, 2)) == [(1, 2), (2, 3)]


def test_a_page_of_several_charts_inlines_plotly_js_once_and_offers_no_cloud_upload(
        tmp_path, monkeypatch):
    from plotly.offline import get_plotlyjs

    from rfm_spark.notebook import figure_display
    charts = [figures.rows_figure(10, 9, {"bad_date": 1}),
              figures.fill_dynamics_figure([Row(as_of_date=D(2020, 6, 1), value="A",
                                                customers=4, share=1.0)]),
              figures.campaign_lift_figure(CELLS, {}, "spring")]
    shown = []
    figure_display({"displayHTML": shown.append})(charts, "three")
    monkeypatch.setenv("RFM_REPORT_DIR", str(tmp_path))
    figure_display({})(charts[0], "one")  # outside Databricks: a file
    for page in (shown[0], (tmp_path / "one.html").read_text()):
        assert page.count(get_plotlyjs()) == 1 and "<script src=" not in page
        assert page.count('"showSendToCloud": false') == page.count("Plotly.newPlot(")
    assert shown[0].count("Plotly.newPlot(") == 3
    assert figures.FIGURE_CONFIG["showSendToCloud"] is False


CHURN = {"metrics": {"gbt": {"roc_auc": 0.8123}, "bgnbd": {"roc_auc": 0.7}},
         "roc": {"gbt": [{"x": 0.0, "y": 0.0}, {"x": 0.2, "y": 0.7}, {"x": 1.0, "y": 1.0}],
                 "bgnbd": [{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}]},
         "calibration": {"gbt": [{"x": 0.1, "y": 0.12, "rows": 400},
                                 {"x": 0.8, "y": 0.7, "rows": 100}],
                         "bgnbd": [{"x": 0.3, "y": 0.2, "rows": 500}]},
         "feature_importances": {"gbt": {"recency_days": 0.5, "orders_90d": 0.3,
                                         "channel": 0.2},
                                 "logistic": {"recency_days": -1.5, "orders_90d": 0.4}}}


def test_roc_draws_the_coin_toss_then_each_model_and_baseline_with_its_auc():
    figure = figures.roc_figure(CHURN)
    assert [t.name for t in figure.data] == ["random", "gbt (AUC 0.812)", "bgnbd (AUC 0.700)"]
    assert list(figure.data[1].x) == [0.0, 0.2, 1.0] and list(figure.data[1].y) == [0.0, 0.7, 1.0]
    assert figure.layout.xaxis.title.text.startswith("false positive rate")
    assert figure.layout.yaxis.title.text.startswith("true positive rate")


def test_calibration_compares_models_and_baselines_marker_area_by_rows():
    figure = figures.calibration_figure(CHURN)
    perfect, gbt, bgnbd = figure.data
    assert (perfect.name, gbt.name, bgnbd.name) == ("perfect", "gbt", "bgnbd")
    assert list(gbt.x) == [0.1, 0.8] and list(gbt.y) == [0.12, 0.7]
    assert gbt.marker.size[0] == pytest.approx(24) and gbt.marker.size[1] == pytest.approx(15)
    assert list(bgnbd.customdata) == [500]
    assert figure.layout.xaxis.title.text == "mean predicted churn probability"
    assert figure.layout.yaxis.title.text == "observed churn rate"


def test_importances_rank_by_size_strongest_on_top_and_say_what_they_measure():
    gbt = figures.importances_figure(CHURN, "gbt", top=2)
    assert list(gbt.data[0].y) == ["orders_90d", "recency_days"]  # plotly draws the last on top
    assert gbt.layout.xaxis.title.text.startswith("importance")
    logistic = figures.importances_figure(CHURN, "logistic").data[0]
    assert list(logistic.x) == [0.4, -1.5]  # by size, the sign kept
    assert "coefficient" in figures.importances_figure(CHURN, "logistic").layout.xaxis.title.text


def test_the_churn_grid_shows_customers_and_the_share_of_value_per_cell():
    cells = [Row(churn_band="high", value_band="high", churn_segment="Valuable, at risk",
                 customers=1_200, value=750.0),
             Row(churn_band="low", value_band="high", churn_segment="Loyal", customers=300,
                 value=250.0)]
    figure = figures.churn_grid_figure(cells)
    heatmap = figure.data[0]
    assert list(heatmap.y) == ["high", "low"] and list(heatmap.x) == ["high"]
    assert [list(r) for r in heatmap.z] == [[0.75], [0.25]]
    assert heatmap.text[0][0] == "Valuable, at risk<br>1,200 customers<br>75.0% of value"
    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == (
        "value band", "churn risk band")
