"""Source 003's membership upgrade on hand-built tiers: candidates with ties at the
top-share boundary, a tier of one customer, both targets, and the config's checks."""
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from conftest import REPO
from rfm_spark.config import Grading, MetricGrading, Scenario, Upgrade, load_config
from rfm_spark.errors import ConfigError
from rfm_spark.simulation import tier_ladder, upgrade_simulation

D = Decimal
# m_grade 1 is the lowest tier here (best: highest). Tier 1: two customers tie at the
# top-share boundary (a3 and a4 at 3; ceil(0.25 x 5) = 2 candidates: a5, then a3 by
# id). Tier 2: median (12 + 14) / 2 = 13. Tier 3: one customer. Total money: 209.
CUSTOMERS = [("a1", 1, "1"), ("a2", 1, "2"), ("a4", 1, "3"), ("a3", 1, "3"), ("a5", 1, "4"),
             ("b1", 2, "10"), ("b2", 2, "12"), ("b3", 2, "14"), ("b4", 2, "20"),
             ("c1", 3, "30"),
             ("d1", 4, "50"), ("d2", 4, "60")]
COLUMNS = ["scenario", "from_grade", "to_grade", "tier_customers", "candidates",
           "candidates_monetary", "target_value", "gap_total", "conversion_rate",
           "expected_upgrades", "expected_uplift", "uplift_share"]


def customers(spark, rows=CUSTOMERS):
    return spark.createDataFrame([(c, g, D(m)) for c, g, m in rows],
                                 "customer_id string, m_grade int, monetary decimal(38,8)")


def simulated(spark, upgrade, rows=CUSTOMERS, ladder=(1, 2, 3, 4)):
    return upgrade_simulation(customers(spark, rows), upgrade, list(ladder)).select(*COLUMNS)


def expected(spark, rows):
    schema = ("scenario string, from_grade int, to_grade int, tier_customers bigint, "
              "candidates bigint, candidates_monetary decimal(38,8), target_value decimal(38,8), "
              "gap_total decimal(38,8), conversion_rate double, expected_upgrades double, "
              "expected_uplift decimal(38,8), uplift_share double")
    return spark.createDataFrame(
        [(*r[:5], D(r[5]), D(r[6]), D(r[7]), r[8], r[9], D(r[10]), float(D(r[10]) / 209))
         for r in rows], schema)


def test_candidates_gaps_and_uplift_to_the_next_floor(spark):
    upgrade = Upgrade(top_share=0.25, scenarios=(Scenario("even", 0.5),
                                                 Scenario("source 003", (0.0, 0.8, 0.5))))
    rows = [
        # 1 -> 2: a5 (4) and a3 (3) to tier 2's floor 10: gaps 6 + 7.
        ("even", 1, 2, 5, 2, "7", "10", "13", 0.5, 1.0, "6.5"),
        # 2 -> 3: b4 (20) to c1's 30. 3 -> 4: the one customer c1 (30) to 50.
        ("even", 2, 3, 4, 1, "20", "30", "10", 0.5, 0.5, "5"),
        ("even", 3, 4, 1, 1, "30", "50", "20", 0.5, 0.5, "10"),
        ("source 003", 1, 2, 5, 2, "7", "10", "13", 0.0, 0.0, "0"),
        ("source 003", 2, 3, 4, 1, "20", "30", "10", 0.8, 0.8, "8"),
        ("source 003", 3, 4, 1, 1, "30", "50", "20", 0.5, 0.5, "10"),
    ]
    assert_df_equality(simulated(spark, upgrade), expected(spark, rows), ignore_row_order=True,
                       ignore_nullable=True)


def test_the_next_median_and_a_missing_tier(spark):
    upgrade = Upgrade(top_share=0.25, target="next_median", scenarios=(Scenario("even", 0.5),))
    rows = [("even", 1, 2, 5, 2, "7", "13", "19", 0.5, 1.0, "9.5"),
            ("even", 2, 3, 4, 1, "20", "30", "10", 0.5, 0.5, "5"),
            ("even", 3, 4, 1, 1, "30", "55", "25", 0.5, 0.5, "12.5")]
    assert_df_equality(simulated(spark, upgrade), expected(spark, rows), ignore_row_order=True,
                       ignore_nullable=True)
    # Without tier 3, neither 2 -> 3 nor 3 -> 4 has both tiers: only 1 -> 2 is left.
    without = [row for row in CUSTOMERS if row[1] != 3]
    found = simulated(spark, upgrade, without).collect()
    assert [(r.from_grade, r.to_grade) for r in found] == [(1, 2)]


def test_the_top_share_is_exact_and_ties_break_by_customer_id(spark):
    # 0.1 x 30 is 3 candidates (ceil(3.0000000000000004) would make 4): m00 (100), m01
    # (95), and of m03 and m02, tied at 90, the smaller id m02.
    tier = [("m00", 1, "100"), ("m01", 1, "95"), ("m03", 1, "90"), ("m02", 1, "90")]
    tier += [(f"m{i:02d}", 1, "1") for i in range(4, 30)]
    upgrade = Upgrade(top_share=0.1, scenarios=(Scenario("all", 1.0),))
    found = simulated(spark, upgrade, tier + [("top", 2, "1000")], ladder=(1, 2)).first()
    assert (found.tier_customers, found.candidates) == (30, 3)
    assert (found.candidates_monetary, found.gap_total) == (D(285), D(900 + 905 + 910))
    assert found.expected_uplift == D(2715)


def test_the_ladder_follows_the_grade_direction():
    three = MetricGrading(grades=3)
    assert tier_ladder(Grading(best="lowest", monetary=three)) == [3, 2, 1]
    assert tier_ladder(Grading(best="highest", monetary=three)) == [1, 2, 3]
    assert tier_ladder(Grading(monetary=MetricGrading(method="iqr"))) == [4, 3, 2, 1]


@pytest.mark.parametrize("settings, message", [
    ({"simulation.upgrade": {"scenarios": [{"name": "x", "conversion": 1.5}]}},
     "'simulation.upgrade.scenarios[0].conversion' must be rates in [0, 1]"),
    ({"simulation.upgrade": {"scenarios": [{"name": "x", "conversion": [0.5, 0.5, 0.5]}]}},
     "gives 3 rates; the 3 monetary grades make 2 steps"),
    ({"simulation.upgrade": {"top_share": 0}}, "'simulation.upgrade.top_share' must be a share"),
    ({"simulation.upgrade": {}, "grading.partition_by": ["store"],
      "input.columns.store": "shop"}, "needs monetary grades over all customers"),
    ({"basket.min_support": 1.5}, "'basket.min_support' must be a share in (0, 1]"),
])
def test_bad_simulation_and_basket_settings_fail_before_spark(settings, message):
    with pytest.raises(ConfigError) as failed:
        load_config([REPO / "conf/default.yaml"], settings=settings)
    assert message in str(failed.value)


def test_the_source_003_preset_simulates_its_upgrade():
    presets = [REPO / "conf/default.yaml", REPO / "conf/presets/online_retail.yaml"]
    config = load_config(presets)
    upgrade = config.simulation.upgrade
    assert (upgrade.top_share, upgrade.target) == (0.25, "next_floor")
    assert upgrade.scenarios[0].rates(3) == (0.0, 0.8, 0.5)
    assert config.sha256 == load_config(presets, settings={
        "simulation.upgrade": None}).sha256  # simulations do not change a run's id
