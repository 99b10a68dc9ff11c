"""Basket rules and the upgrade simulation end to end through their jobs, on generated
H&M-shaped data whose regular and occasional customers buy different planted pairs:
`rfm-basket` finds each pair in its segments, recommends, checks a holdout;
`rfm-simulate` writes a stored run's simulation; bad input stops before any write."""
import pytest
from pyspark.sql import functions as F

from conftest import HM_CONFIGS, run_job
from rfm_spark.jobs import basket, simulate
from rfm_spark.lakehouse import read_table, stored
from rfm_spark.synthetic import planted_pair_ids
from rfm_spark.tables import BASKET_EVALUATION, BASKET_RULES, RECOMMENDATIONS, UPGRADE_SIMULATION

pytestmark = pytest.mark.e2e
SMALL = ["--set", "basket.min_baskets=20"]


@pytest.fixture(scope="module")
def mined(spark, hm_run):
    code, printed = run_job(basket.main, *HM_CONFIGS, "--input", hm_run.data, "--lakehouse",
                            hm_run.root, "--run-id", hm_run.run_id, *SMALL)
    assert code == 0, printed
    rules = read_table(spark, hm_run.lakehouse, BASKET_RULES.name).cache()
    return rules, printed


def rule_values(rules, pair):
    first, second = pair
    holds = ((F.col("antecedent") == F.array(F.lit(first)))
             & (F.col("consequent") == F.array(F.lit(second))))
    return {row.value for row in rules.where(holds).select("value").collect()}


@pytest.mark.connect
def test_each_planted_pair_is_a_rule_in_its_customers_segments(mined):
    rules, printed = mined
    pairs = planted_pair_ids()
    regular, occasional = rule_values(rules, pairs["regular"]), rule_values(rules,
                                                                            pairs["occasional"])
    # F = 1 (most orders) is all regular customers; F = 3 (one or two orders) occasional.
    assert {"VIP", "Frequent"} <= regular and not regular & {"One-time", "Newcomers"}
    assert {"One-time", "Newcomers"} <= occasional and not occasional & {"VIP", "Frequent"}
    found = rules.where(F.col("value") == "Frequent").where(
        F.col("antecedent") == F.array(F.lit(pairs["regular"][0]))).first()
    assert found.lift > 10 and found.p_value_adjusted < 1e-6 and found.baskets >= 20
    assert "rules mined" in printed and "Frequent" in printed


def test_recommendations_and_the_tables_hold_their_declared_columns(spark, hm_run, mined):
    recommendations = read_table(spark, hm_run.lakehouse, RECOMMENDATIONS.name)
    assert recommendations.count() > 0
    per_customer = recommendations.groupBy("customer_id").agg(
        F.max("rank").alias("last"), F.count(F.lit(1)).alias("items"))
    assert per_customer.where("last != items OR items > 5").count() == 0
    for table in (BASKET_RULES, RECOMMENDATIONS):
        written = stored(spark, hm_run.lakehouse, table.name)
        assert [(f.name, f.dataType.simpleString()) for f in written.schema.fields] == list(
            table.layout())


def test_a_holdout_checks_the_recommendations_against_later_purchases(spark, hm_run, mined):
    code, printed = run_job(basket.main, *HM_CONFIGS, "--input", hm_run.data, "--lakehouse",
                            hm_run.root, "--run-id", hm_run.run_id, "--holdout-days", "60",
                            *SMALL)
    assert code == 0, printed
    rows = read_table(spark, hm_run.lakehouse, BASKET_EVALUATION.name).collect()
    assert rows and all(r.holdout_days == 60 and 0 <= r.hit_rate <= 1 for r in rows)
    assert all(r.hit_rate == r.customers_hit / r.customers for r in rows)
    # Regular customers buy their pair again: VIPs given its second article buy it often.
    # Popularity, given the same customers as many items, does no better in total (in
    # the segments whose customers buy a planted pair, its articles are popular too).
    vip = next(r for r in rows if r.value == "VIP")
    assert vip.customers >= 20 and vip.hit_rate > 0.1
    popular_hits = sum(round(r.popular_hit_rate * r.customers) for r in rows)
    assert sum(r.customers_hit for r in rows) >= popular_hits
    assert "popular" in printed
    written = stored(spark, hm_run.lakehouse, BASKET_EVALUATION.name)
    assert [(f.name, f.dataType.simpleString()) for f in written.schema.fields] == list(
        BASKET_EVALUATION.layout())


def test_simulate_writes_a_stored_runs_upgrade_rows(spark, hm_run):
    code, printed = run_job(simulate.main, "--lakehouse", hm_run.root, "--run-id",
                            hm_run.run_id, "--set",
                            "simulation.upgrade.scenarios=[{name: steps, conversion: [0.2, 0.5]}]")
    assert code == 0, printed
    rows = read_table(spark, hm_run.lakehouse, UPGRADE_SIMULATION.name).collect()
    # default.yaml grades monetary 1 (best) to 3: the steps are 3 -> 2 and 2 -> 1.
    assert sorted((r.from_grade, r.to_grade, r.conversion_rate) for r in rows) == [
        (2, 1, 0.5), (3, 2, 0.2)]
    assert all(r.expected_uplift > 0 and r.candidates > 0 for r in rows)
    assert "assumed conversion rates" in printed


@pytest.mark.parametrize("arguments, message", [
    (["--set", "input.columns.item=null"], "basket rules need items"),
    (["--run-id", "nope"], "no succeeded run 'nope'"),
    (["--set", "basket.min_support=1.5"], "must be a share in (0, 1]"),
])
def test_bad_basket_input_stops_before_anything_is_written(spark, hm_run, tmp_path, caplog,
                                                           arguments, message):
    fresh = str(tmp_path / "lake")
    argv = [*HM_CONFIGS, "--input", hm_run.data, "--lakehouse", fresh]
    if "--run-id" not in arguments:
        argv += ["--run-id", hm_run.run_id]
    assert run_job(basket.main, *argv, *arguments)[0] == 2
    assert message in caplog.text
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--set", "clean.drop_non_positive_amounts=true"],
     "read or cleaned its input otherwise than this config (clean.drop_non_positive_amounts)"),
    (["--set", "grading.best=highest", "--holdout-days", "30"],
     "graded with other grading or segment rules"),
])
def test_a_config_that_is_not_the_runs_is_refused(spark, hm_run, caplog, arguments, message):
    tables = [table.name for table in (BASKET_RULES, RECOMMENDATIONS, BASKET_EVALUATION)]
    before = {name: lakehouse_version(spark, hm_run, name) for name in tables}
    code, _ = run_job(basket.main, *HM_CONFIGS, "--input", hm_run.data, "--lakehouse",
                      hm_run.root, "--run-id", hm_run.run_id, *arguments)
    assert code == 2 and message in caplog.text
    assert {name: lakehouse_version(spark, hm_run, name) for name in tables} == before


def lakehouse_version(spark, hm_run, name):
    """The table's latest Delta version, or None when it was never written."""
    path = hm_run.lakehouse.location(name)
    try:
        return spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").first().version
    except Exception:  # no table yet
        return None


def test_a_bad_scenario_stops_simulate_before_anything_is_written(spark, hm_run, caplog):
    code, _ = run_job(simulate.main, "--lakehouse", hm_run.root, "--run-id", hm_run.run_id,
                      "--set", "simulation.upgrade.scenarios=[{name: x, conversion: [1, 1, 1]}]")
    assert code == 2 and "the 3 monetary grades make 2 steps" in caplog.text
    written = stored(spark, hm_run.lakehouse, UPGRADE_SIMULATION.name)
    assert written.where(F.col("scenario") == "x").count() == 0
