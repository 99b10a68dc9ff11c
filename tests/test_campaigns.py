"""Campaign assignment and measurement on small hand-built frames (no writes)."""
import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import Row

from rfm_spark.campaigns import Decision, Selection
from rfm_spark.campaigns.assign import draw_arms
from rfm_spark.campaigns.measure import cell_counts, responses, result_rows
from rfm_spark.campaigns.stats import Arms, newcombe
from rfm_spark.errors import ConfigError

CELL_SIZES = {"111": 1, "112": 2, "113": 3, "121": 5, "122": 10, "123": 100}


def members_frame(spark, sizes=CELL_SIZES):
    rows = [(f"{code}-{i:03d}", code) for code, n in sizes.items() for i in range(n)]
    return spark.createDataFrame(rows, "customer_id string, segment_code string")


def controls_per_cell(drawn):
    return {row.segment_code: row["count"] for row in
            drawn.where("arm = 'control'").groupBy("segment_code").count().collect()}


@pytest.mark.parametrize("share, expected", [
    # round(n x share), half up: 0.5 -> 1, 1.5 -> 2, 2.5 -> 3
    (0.5, {"111": 1, "112": 1, "113": 2, "121": 3, "122": 5, "123": 50}),
    # 0.15 x 10 = 1.5 exactly (not 1.4999... as in floating point) -> 2
    (0.15, {"112": 0, "113": 0, "121": 1, "122": 2, "123": 15}),
    (0.3, {"112": 1, "113": 1, "121": 2, "122": 3, "123": 30}),
])
def test_every_cell_gets_exactly_its_rounded_share_of_controls(spark, share, expected):
    drawn = draw_arms(members_frame(spark), "spring", 0, share)
    found = controls_per_cell(drawn)
    assert {code: found.get(code, 0) for code in expected} == expected
    assert drawn.count() == sum(CELL_SIZES.values())
    assert drawn.select("customer_id").distinct().count() == drawn.count()  # one arm each


def test_the_draw_repeats_for_a_seed_and_differs_between_campaigns_and_seeds(spark):
    members = members_frame(spark, {"123": 100})

    def control(campaign, seed):
        drawn = draw_arms(members, campaign, seed, 0.5).where("arm = 'control'")
        return {row.customer_id for row in drawn.collect()}
    first = control("spring", 1)
    assert control("spring", 1) == first
    for other in (control("summer", 1), control("spring", 2)):
        assert len(other) == 50 and other != first
        assert 10 < len(other & first) < 40  # independent draws overlap by about half


CELLS = [Row(segment_code="111", segment="VIP", group="Active", segment_action="gift",
             customers=10),
         Row(segment_code="112", segment="Frequent", group="Active", segment_action=None,
             customers=0),
         Row(segment_code="211", segment="Sleeping", group="Sleeping", segment_action=None,
             customers=4),
         Row(segment_code="222", segment="Sleeping", group="Sleeping", segment_action=None,
             customers=4)]


@pytest.mark.parametrize("selection, codes", [
    (Selection(), ["111", "112", "211", "222"]),
    (Selection(segments=("VIP",)), ["111"]),
    (Selection(groups=("Sleeping",), codes=("11*",)), ["111", "112", "211", "222"]),
    (Selection(codes=("2(1-2)2",)), ["222"]),   # 212 is no code of the run
])
def test_selectors_choose_codes(selection, codes):
    assert selection.resolve(CELLS) == codes


@pytest.mark.parametrize("selection, message", [
    (Selection(segments=("Champions",)), "--segment 'Champions': the run has no such segment"),
    (Selection(groups=("Lost",)), "--group 'Lost': the run has no such group"),
    (Selection(codes=("12*",)), "--code '12*' matches no code of the run"),
    (Selection(codes=("1*",)), "--code '1*'"),
])
def test_a_selector_that_matches_nothing_is_refused(selection, message):
    with pytest.raises(ConfigError, match=message.replace("*", r"\*").replace("(", r"\(")):
        selection.resolve(CELLS)


def test_the_selection_text_does_not_depend_on_the_order_given():
    assert Selection(segments=("b", "a"), codes=("1**",)).describe() == \
        Selection(segments=("a", "b", "a"), codes=("1**",)).describe() == \
        "segment: a, b; code: 1**"
    assert Selection().describe() == "all"


# Members of campaign c1 (start 2024-02-01, 10-day window: 02-01 to 02-10):
#   111 VIP/Active:       test a1 a2 a3 a4,  control a5 a6
#   112 Frequent/Active:  test b1 b2,        control b3 b4
#   333 Lost/Leaving:     test d1,           no control
MEMBERS = [("a1", "111", "VIP", "Active", "test"), ("a2", "111", "VIP", "Active", "test"),
           ("a3", "111", "VIP", "Active", "test"), ("a4", "111", "VIP", "Active", "test"),
           ("a5", "111", "VIP", "Active", "control"), ("a6", "111", "VIP", "Active", "control"),
           ("b1", "112", "Frequent", "Active", "test"), ("b2", "112", "Frequent", "Active", "test"),
           ("b3", "112", "Frequent", "Active", "control"),
           ("b4", "112", "Frequent", "Active", "control"),
           ("d1", "333", "Lost", "Leaving", "test")]
D = dt.date.fromisoformat
TRANSACTIONS = [
    ("a1", D("2024-02-01"), "10", None, False),          # on the start day: counted
    ("a2", D("2024-02-10"), "5", None, False),           # the window's last day: counted
    ("a3", D("2024-02-11"), "9", None, False),           # the day after: not counted
    ("a4", D("2024-01-31"), "2", None, False),           # before the start
    ("a4", D("2024-02-05"), "8", None, False),
    ("a4", D("2024-02-06"), "50", "bad_amount", False),  # rejected: not counted
    ("a5", D("2024-02-03"), "20", None, False),
    ("a5", D("2024-02-04"), "-5", None, True),           # a netted cancellation subtracts
    ("b1", D("2024-02-04"), "-3", None, True),           # only a cancellation: no response
    ("b2", D("2024-02-02"), "7", None, False),
    ("b3", D("2024-02-05"), "1", None, False),
    ("d1", D("2024-02-06"), "4", None, False),
    ("x9", D("2024-02-02"), "100", None, False),         # no member
    (None, D("2024-02-02"), "100", "missing_customer_id", False),
]


@pytest.fixture(scope="module")
def counted(spark):
    members = spark.createDataFrame(MEMBERS, "customer_id string, segment_code string, "
                                    "segment string, group string, arm string")
    flagged = spark.createDataFrame(
        [(c, d, Decimal(a), r, n) for c, d, a, r, n in TRANSACTIONS],
        "customer_id string, purchase_date date, amount decimal(18,8), reject_reason string, "
        "netted boolean")
    return cell_counts(members, responses(flagged, D("2024-02-01"), 10))


def test_responders_and_revenue_per_cell_and_arm(spark, counted):
    expected = spark.createDataFrame([
        ("111", "VIP", "Active", "control", 2, 1, Decimal("15")),
        ("111", "VIP", "Active", "test", 4, 3, Decimal("23")),
        ("112", "Frequent", "Active", "control", 2, 1, Decimal("1")),
        ("112", "Frequent", "Active", "test", 2, 1, Decimal("4")),
        ("333", "Lost", "Leaving", "test", 1, 1, Decimal("4")),
    ], counted.schema)
    assert_df_equality(counted, expected, ignore_row_order=True, ignore_nullable=True)


def by_value(rows):
    return {(row["level"], row["value"]): row for row in rows}


def test_results_at_every_level_by_hand(counted):
    rows = by_value(result_rows(counted.collect(), 0.5, Decision()))
    assert sorted(rows) == [("group", "Active"), ("group", "Leaving"),
                            ("segment", "Frequent"), ("segment", "Lost"), ("segment", "VIP"),
                            ("segment_code", "111"), ("segment_code", "112"),
                            ("segment_code", "333"), ("total", "all")]
    vip = rows[("segment_code", "111")]
    assert (vip["test_customers"], vip["control_customers"], vip["test_responders"],
            vip["control_responders"]) == (4, 2, 3, 1)
    assert vip["lift"] == pytest.approx(0.75 - 0.5)
    assert (vip["lift_ci_low"], vip["lift_ci_high"]) == pytest.approx(newcombe(Arms(4, 2, 3, 1)))
    # Fisher on [[3, 1], [1, 1]]: P(k) = 6/15, 8/15, 1/15 for k = 2, 3, 4; all <= 8/15
    assert (vip["test_name"], vip["p_value"]) == ("fisher", pytest.approx(1.0))
    assert vip["incremental_revenue"] == Decimal("-7.00000000")  # (23/4 - 15/2) x 4
    assert rows[("segment_code", "112")]["incremental_revenue"] == Decimal("3.00000000")
    assert vip["decision"] == "send"                           # 75% > 3%
    active = rows[("group", "Active")]
    assert (active["test_customers"], active["test_responders"]) == (6, 4)
    assert active["lift"] == pytest.approx(4 / 6 - 2 / 4)
    total = rows[("total", "all")]
    assert total["lift"] == pytest.approx(0.6 * 0.25 + 0.4 * 0.0)  # weights 6/10, 4/10
    assert total["test_name"] == "stratified z"
    assert (total["test_customers"], total["control_customers"]) == (7, 4)


def test_a_value_with_an_empty_arm_has_no_statistics_and_stops(counted):
    rows = by_value(result_rows(counted.collect(), 0.5, Decision()))
    for key in (("segment_code", "333"), ("segment", "Lost"), ("group", "Leaving")):
        row = rows[key]
        assert row["decision"] == "stop"
        assert all(row[c] is None for c in ("lift", "lift_ci_low", "lift_ci_high", "p_value",
                                            "p_value_adjusted", "mde", "incremental_revenue"))
        assert row["test_response_rate"] == 1.0 and row["control_response_rate"] is None
    # Holm across the two codes with both arms only: both p-values are 1.
    assert rows[("segment_code", "112")]["p_value_adjusted"] == pytest.approx(1.0)


def test_the_response_rule_at_its_boundary(counted):
    counts = counted.collect()
    at = by_value(result_rows(counts, 0.5, Decision(min_response=0.75)))
    below = by_value(result_rows(counts, 0.5, Decision(min_response=0.7499)))
    assert at[("segment_code", "111")]["decision"] == "stop"   # 0.75 is not above 0.75
    assert below[("segment_code", "111")]["decision"] == "send"


def test_the_cost_rule_at_its_boundary(counted):
    # send when lift_ci_low x margin > cost per contact; equal is stop
    margin = 10.0
    assert Decision(0.0, 0.99, margin)(0.5, 0.1) == "send"    # 0.1 x 10 = 1 > 0.99
    assert Decision(0.0, 1.0, margin)(0.5, 0.1) == "stop"     # 1 is not above 1
    assert Decision(0.0, 0.0, margin)(0.5, 0.0) == "stop"     # free contacts, no lift
    # The small VIP cell's interval holds 0: never worth a cost, whatever its rate.
    rows = by_value(result_rows(counted.collect(), 0.5, Decision(0.0, 0.0, margin)))
    assert rows[("segment_code", "111")]["lift_ci_low"] < 0
    assert rows[("segment_code", "111")]["decision"] == "stop"
