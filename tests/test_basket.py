"""Basket rules and recommendations on hand-built baskets: counts, measures, Fisher's test
and Benjamini-Hochberg worked out by hand (no writes)."""
import datetime as dt
from fractions import Fraction

import pytest
from chispa import assert_df_equality
from scipy.stats import false_discovery_control

from rfm_spark.basket import api, mining, recommend, stats
from rfm_spark.config import Basket
from rfm_spark.session import Caches

D = dt.date(2024, 3, 1)
# Segment S1, 10 baskets: {a,b} x4, {a} x1, {b,c} x2, {c} x3 -> a 5, b 6, c 5, ab 4, bc 2.
# Segment S2, 6 baskets: {x,y} x3, {x}, {y}, {a}: its own rule, and a too rare there.
BASKETS = ([("S1", ["a", "b"])] * 4 + [("S1", ["a"])] + [("S1", ["b", "c"])] * 2
           + [("S1", ["c"])] * 3 + [("S2", ["x", "y"])] * 3
           + [("S2", ["x"]), ("S2", ["y"]), ("S2", ["a"])])


def valued(spark, baskets=BASKETS):
    rows = [(f"{value}-{i}", str(i), items, value) for i, (value, items) in enumerate(baskets)]
    return spark.createDataFrame(rows, "customer_id string, basket string, items array<string>, "
                                       "value string")


def mined(spark, spec, baskets=BASKETS):
    frame = valued(spark, baskets)
    with Caches(spark) as cache:
        rules = mining.with_measures(mining.mine(frame, mining.level_values(frame), spec, cache))
        return {(r.value, tuple(r.antecedent), tuple(r.consequent)): r for r in rules.collect()}


def test_baskets_hold_distinct_items_and_flag_those_over_max_items(spark):
    used = spark.createDataFrame([
        ("c1", D, None, "a"), ("c1", D, None, "a"), ("c1", D, None, "b"),  # duplicate a
        ("c1", D + dt.timedelta(days=1), None, "c"),                      # another day
        ("c2", D, "o1", "a"), ("c2", D, "o1", "b"), ("c2", D, "o1", "c"),  # an order id
        ("c2", D, "o2", "d"), ("c2", D, "o2", None),                       # no item: skipped
    ], "customer_id string, purchase_date date, order_id string, item string")
    found = {(r.customer_id, r.basket): (r.items, r.oversized)
             for r in mining.baskets(used, max_items=2).collect()}
    assert found == {("c1", "2024-03-01"): (["a", "b"], False),
                     ("c1", "2024-03-02"): (["c"], False),
                     ("c2", "o1"): (["a", "b", "c"], True),
                     ("c2", "o2"): (["d"], False)}


def test_rules_of_each_value_with_counts_and_measures_by_hand(spark):
    rules = mined(spark, Basket(min_baskets=2, min_confidence=0.1))
    assert set(rules) == {("S1", ("a",), ("b",)), ("S1", ("b",), ("a",)),
                          ("S1", ("b",), ("c",)), ("S1", ("c",), ("b",)),
                          ("S2", ("x",), ("y",)), ("S2", ("y",), ("x",))}
    a_b = rules[("S1", ("a",), ("b",))]
    assert (a_b.antecedent_baskets, a_b.consequent_baskets, a_b.baskets, a_b.level_baskets) == (
        5, 6, 4, 10)
    assert (a_b.support, a_b.confidence) == (0.4, 0.8)
    assert a_b.lift == pytest.approx(0.8 / 0.6)
    c_b = rules[("S1", ("c",), ("b",))]
    assert (c_b.confidence, c_b.lift) == (pytest.approx(0.4), pytest.approx(0.4 / 0.6))
    x_y = rules[("S2", ("x",), ("y",))]
    assert (x_y.baskets, x_y.level_baskets, x_y.lift) == (3, 6, pytest.approx(0.75 / (4 / 6)))


def test_each_value_has_its_own_support_threshold(spark):
    # min_support 0.35: S1 needs ceil(3.5) = 4 baskets (only ab), S2 ceil(2.1) = 3 (xy).
    rules = mined(spark, Basket(min_support=0.35, min_confidence=0.0))
    assert {key[:2] for key in rules} == {("S1", ("a",)), ("S1", ("b",)), ("S2", ("x",)),
                                          ("S2", ("y",))}
    # min_confidence 0.7 keeps a -> b (0.8) and x -> y (0.75), not b -> a (0.67).
    strict = mined(spark, Basket(min_baskets=2, min_confidence=0.7))
    assert set(strict) == {("S1", ("a",), ("b",)), ("S2", ("x",), ("y",)),
                           ("S2", ("y",), ("x",))}


def test_values_with_fewer_baskets_than_the_threshold_have_no_rules(spark):
    # 20 baskets needed: S1 (10) and S2 (6) cannot reach it, and FP-Growth is not asked
    # for a support above 1 (Spark refuses it); 4 needed: only S1's a, b pair has them.
    assert mined(spark, Basket(min_baskets=20, min_confidence=0.0)) == {}
    assert set(mined(spark, Basket(min_baskets=4, min_confidence=0.0))) == {
        ("S1", ("a",), ("b",)), ("S1", ("b",), ("a",))}


def test_oversized_baskets_are_left_out_of_the_rules_and_counted(spark):
    day = D - dt.timedelta(days=1)
    used = spark.createDataFrame(
        [(f"c{i}", day, f"o{i}", item) for i in range(3) for item in ("a", "b")]
        + [("c3", day, "o3", item) for item in ("a", "b", "c")],  # 3 items: over max_items
        "customer_id string, purchase_date date, order_id string, item string")
    values = spark.createDataFrame([(f"c{i}", "S") for i in range(4)],
                                   "customer_id string, value string")
    with Caches(spark) as cache:
        found = api._mine(used, values, D, Basket(min_baskets=2, min_confidence=0.0,
                                                  max_items=2), cache)
        rules = {(tuple(r.antecedent), tuple(r.consequent)): r for r in found.rules.collect()}
        counts = found.counts
    assert (counts["baskets"], counts["oversized"]) == (3, 1)
    a_b = rules[("a",), ("b",)]
    # The three kept baskets only: c3's {a, b, c} counts nowhere, the population's too.
    assert (a_b.antecedent_baskets, a_b.baskets, a_b.level_baskets) == (3, 3, 3)
    assert a_b.population_lift == 1.0 and set(rules) == {(("a",), ("b",)), (("b",), ("a",))}


@pytest.mark.parametrize("level, expected", [
    ("segment", {"c1": "Loyal", "c2": "Lost"}), ("group", {"c1": "Warm", "c2": "Cold"}),
    ("all", {"c1": "all", "c2": "all"})])
def test_each_level_gives_every_customer_one_value(spark, level, expected):
    customers = spark.createDataFrame([("c1", "Loyal", "Warm"), ("c2", "Lost", "Cold")],
                                      "customer_id string, segment string, `group` string")
    found = api._values_of(customers, Basket(level=level)).collect()
    assert {r.customer_id: r.value for r in found} == expected


def test_fisher_exact_test_against_the_tea_tasting_lady_and_by_hand():
    # Fisher (1935), The Design of Experiments: 8 cups, 4 with milk first, 3 of her 4
    # picks right: one-sided p = 17/70.
    assert stats.fisher_greater(8, 4, 4, 3) == pytest.approx(17 / 70)
    # a -> b in S1: P(K >= 4), K ~ Hypergeometric(10, 5, 6) = (5 x 10 + 1 x 5) / 210.
    assert stats.fisher_greater(10, 5, 6, 4) == pytest.approx(55 / 210)
    assert stats.fisher_greater(10, 6, 5, 2) == pytest.approx(1 - 6 / 252)


def test_p_values_and_benjamini_hochberg_within_each_value(spark):
    frame = valued(spark)
    with Caches(spark) as cache:
        rules = mining.with_measures(mining.mine(frame, mining.level_values(frame),
                                                 Basket(min_baskets=2, min_confidence=0.1),
                                                 cache))
        tested = stats.with_adjusted(stats.with_p_values(spark, rules, 100)).collect()
    by_rule = {(r.value, r.antecedent[0], r.consequent[0]): r for r in tested}
    # S1's four p-values 55/210, 55/210, 205/210, 205/210: BH gives min(4 p(j) / j).
    for rule, p, adjusted in [(("S1", "a", "b"), Fraction(55, 210), Fraction(110, 210)),
                              (("S1", "b", "a"), Fraction(55, 210), Fraction(110, 210)),
                              (("S1", "b", "c"), Fraction(205, 210), Fraction(205, 210)),
                              (("S1", "c", "b"), Fraction(205, 210), Fraction(205, 210))]:
        assert by_rule[rule].p_value == pytest.approx(float(p))
        assert by_rule[rule].p_value_adjusted == pytest.approx(float(adjusted))
    s1 = sorted(r.p_value for r in tested if r.value == "S1")
    assert sorted(r.p_value_adjusted for r in tested if r.value == "S1") == pytest.approx(
        sorted(false_discovery_control(s1, method="bh")))
    # S2's two rules are tested among themselves only: P(K >= 3), K ~ H(6, 4, 4) = 9/15.
    assert by_rule[("S2", "x", "y")].p_value_adjusted == pytest.approx(0.6)


def test_the_strongest_rules_per_value_and_their_population_lift(spark):
    frame = valued(spark)
    with Caches(spark) as cache:
        rules = mining.with_measures(mining.mine(frame, mining.level_values(frame),
                                                 Basket(min_baskets=2, min_confidence=0.1),
                                                 cache))
        # a -> b and b -> a tie on lift in S1; a -> b has the higher confidence.
        kept = mining.strongest(rules, max_rules=1)
        found = {r.value: r for r in mining.population_counts(kept, frame).collect()}
    assert (found["S1"].antecedent, found["S1"].consequent) == (["a"], ["b"])
    # Over all 16 baskets: a in 6, b in 6, both in 4; x in 4, y in 4, both in 3.
    assert found["S1"].population_lift == pytest.approx(4 * 16 / (6 * 6))
    assert found["S2"].population_lift == pytest.approx(3 * 16 / (4 * 4))


RULES = [  # value, antecedent, consequent, confidence, lift
    ("S1", ["a"], ["b"], 0.8, 1.3),
    ("S1", ["b"], ["a"], 0.6, 1.3),
    ("S1", ["b"], ["c"], 0.3, 0.7),
    ("S1", ["a"], ["d"], 0.5, 2.0),     # d and e tie: the smaller item id ranks first
    ("S1", ["a"], ["e"], 0.5, 2.0),
    ("S1", ["a", "c"], ["f"], 0.9, 3.0),  # needs both a and c
    ("S1", ["c"], ["f"], 0.4, 1.0),     # f again, by a weaker rule
    ("S2", ["x"], ["y"], 0.7, 1.1),
]


def test_recommendations_match_whole_antecedents_and_never_repeat_a_purchase(spark):
    rules = spark.createDataFrame(RULES, "value string, antecedent array<string>, "
                                         "consequent array<string>, confidence double, lift double")
    recent = spark.createDataFrame([("u1", "a"), ("u2", "b"), ("u3", "a"), ("u3", "b"),
                                    ("u4", "a"), ("u5", "a"), ("u5", "c")],
                                   "customer_id string, item string")
    values = spark.createDataFrame([("u1", "S1"), ("u2", "S1"), ("u3", "S1"), ("u4", "S2"),
                                    ("u5", "S1")], "customer_id string, value string")
    found = recommend.recommendations(recent, values, rules, count=3).drop("lift")
    expected = spark.createDataFrame([
        ("u1", 1, "b", 0.8, ["a"]), ("u1", 2, "d", 0.5, ["a"]), ("u1", 3, "e", 0.5, ["a"]),
        ("u2", 1, "a", 0.6, ["b"]), ("u2", 2, "c", 0.3, ["b"]),
        # u3 bought a and b: a -> b and b -> a offer nothing new.
        ("u3", 1, "d", 0.5, ["a"]), ("u3", 2, "e", 0.5, ["a"]), ("u3", 3, "c", 0.3, ["b"]),
        # u5: f by {a, c} (0.9) rather than by {c}; u4 (S2) does not get S1's rules.
        ("u5", 1, "f", 0.9, ["a", "c"]), ("u5", 2, "b", 0.8, ["a"]), ("u5", 3, "d", 0.5, ["a"]),
    ], "customer_id string, rank int, item string, score double, rule array<string>")
    assert_df_equality(found, expected, ignore_row_order=True, ignore_nullable=True)


def test_hit_rates_and_the_popular_baseline(spark):
    values = spark.createDataFrame([("u1", "S1"), ("u2", "S1"), ("u3", "S2")],
                                   "customer_id string, value string")
    recommended = spark.createDataFrame([("u1", "b"), ("u1", "d"), ("u2", "a"), ("u3", "y")],
                                        "customer_id string, item string")
    bought = spark.createDataFrame([("u1", "d"), ("u1", "z"), ("u3", "q")],
                                   "customer_id string, item string")
    found = recommend.hits(recommended, bought, values)
    expected = spark.createDataFrame([("S1", 2, 1, 3, 1), ("S2", 1, 0, 1, 0)],
                                     "value string, customers bigint, customers_hit bigint, "
                                     "recommendations bigint, recommendations_hit bigint")
    assert_df_equality(found, expected, ignore_row_order=True, ignore_nullable=True)
    # The baseline: as many of the value's most popular items as the rules gave, none
    # bought recently. S1's baskets: a 3, b 2, c 1; u1 bought a recently.
    baskets = spark.createDataFrame([("S1", ["a", "b"]), ("S1", ["a", "c"]), ("S1", ["a", "b"])],
                                    "value string, items array<string>")
    customers = spark.createDataFrame([("u1", "S1", 2), ("u2", "S1", 1)],
                                      "customer_id string, value string, items bigint")
    recent = spark.createDataFrame([("u1", "a")], "customer_id string, item string")
    popular = recommend.popular(baskets, recent, customers, count=5)
    assert_df_equality(popular, spark.createDataFrame(
        [("u1", "b"), ("u1", "c"), ("u2", "a")], "customer_id string, item string"),
        ignore_row_order=True, ignore_nullable=True)
