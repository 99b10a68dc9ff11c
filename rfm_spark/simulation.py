"""Source 003's membership upgrade: what would moving the top spenders of each monetary
tier up to the next tier bring? Arithmetic on assumed conversion rates, not a causal
estimate: a campaign's measured lift is the better rate where one exists (README).

For each step from a tier to the next one up (more monetary), the candidates are the
top ceil(top_share x tier customers) of the tier by monetary, ties broken by customer
id; each would have to reach the target (the next tier's smallest monetary, or its
median), and the scenario's conversion rate of them is assumed to. Money stays decimal.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window as W
from pyspark.sql import functions as F

from rfm_spark import lakehouse as lh
from rfm_spark.config import Config, Grading, Upgrade
from rfm_spark.lakehouse.upgrade import replace_upgrade
from rfm_spark.tables import ATTEMPT, UPGRADE_SIMULATION

MONEY = "decimal(38,8)"
RATE = "decimal(18,8)"   # a conversion rate, exactly as configured (8 decimals)


def tier_ladder(grading: Grading) -> list[int]:
    """The monetary grades from the lowest tier (least money) upward."""
    grades = list(range(1, grading.monetary.grade_count + 1))
    return grades[::-1] if grading.best == "lowest" else grades


def simulate_run(spark: SparkSession, lakehouse: lh.Lakehouse, run: lh.RunInfo, config: Config
                 ) -> DataFrame:
    """Replaces the stored run's rfm_upgrade_simulation rows by those of
    `config.simulation.upgrade` (the run's grading) and returns them as stored."""
    customers = lh.run_rows(spark, lakehouse, "rfm_customers", run)
    lh.refuse_partitioned(customers, run, "the upgrade ladder needs one monetary grade per "
                                          "customer")
    computed = upgrade_simulation(customers, config.simulation.upgrade,
                                  tier_ladder(config.grading))
    layout = [(name, kind) for name, kind in UPGRADE_SIMULATION.layout() if name != ATTEMPT]
    rows = computed.select(F.lit(run.run_id).alias("run_id"),
                           F.lit(run.as_of_date).alias("as_of_date"), "*")
    replace_upgrade(spark, lakehouse, run, rows.select(
        *[F.col(name).cast(kind).alias(name) for name, kind in layout]))
    return lh.read_table(spark, lakehouse, UPGRADE_SIMULATION.name).where(
        F.col("run_id") == run.run_id)


def upgrade_simulation(customers: DataFrame, upgrade: Upgrade, ladder: list[int]) -> DataFrame:
    """One row per scenario and step whose two tiers both hold customers, from a run's
    customers (customer_id, m_grade, monetary); run_id and as_of_date are the caller's."""
    ranked = customers.select("customer_id", "m_grade", "monetary").transform(
        _ranked, upgrade.top_share)
    tiers = ranked.groupBy("m_grade").agg(
        F.count(F.lit(1)).alias("tier_customers"),
        F.min("monetary").alias("floor"),
        F.avg(F.when(F.col("is_middle"), F.col("monetary"))).cast(MONEY).alias("median"))
    target = F.col("floor") if upgrade.target == "next_floor" else F.col("median")
    targets = tiers.select(F.col("m_grade").alias("to_grade"), target.alias("target_value"))
    steps = customers.sparkSession.createDataFrame(
        [(scenario.name, from_grade, to_grade, float(rate)) for scenario in upgrade.scenarios
         for from_grade, to_grade, rate in zip(ladder, ladder[1:],
                                               scenario.rates(len(ladder) - 1))],
        "scenario string, from_grade int, to_grade int, conversion_rate double")
    step_targets = (steps.select("from_grade", "to_grade").distinct()
                    .join(targets, "to_grade"))  # the upper tier holds customers
    gaps = (ranked.where("is_candidate")
            .join(F.broadcast(step_targets), F.col("m_grade") == F.col("from_grade"))
            .groupBy("from_grade", "to_grade", "target_value")
            .agg(F.count(F.lit(1)).alias("candidates"),
                 F.sum("monetary").alias("candidates_monetary"),
                 F.sum(F.greatest(F.col("target_value") - F.col("monetary"), F.lit(0)))
                 .alias("gap_total")))
    total = customers.agg(F.sum("monetary").alias("total_monetary"))
    rate = F.col("conversion_rate").cast(RATE)
    uplift = (rate * F.col("gap_total")).cast(MONEY)
    return (steps.join(gaps, ["from_grade", "to_grade"])
            .join(tiers.withColumnRenamed("m_grade", "from_grade"), "from_grade")
            .crossJoin(total)
            .select("scenario", "from_grade", "to_grade", "tier_customers", "candidates",
                    F.col("candidates_monetary").cast(MONEY).alias("candidates_monetary"),
                    F.col("target_value").cast(MONEY).alias("target_value"),
                    F.col("gap_total").cast(MONEY).alias("gap_total"),
                    "conversion_rate",
                    (F.col("conversion_rate") * F.col("candidates")).alias("expected_upgrades"),
                    uplift.alias("expected_uplift"),
                    (uplift.cast("double") / F.col("total_monetary").cast("double"))
                    .alias("uplift_share")))


def _ranked(customers: DataFrame, top_share: float) -> DataFrame:
    """Each customer's place in their tier: a candidate (top ceil(top_share x n) by
    monetary, ties by customer id) and whether they hold a middle place (the one, or
    two, whose mean is the tier's median)."""
    tier = W.partitionBy("m_grade")
    from_top = tier.orderBy(F.desc("monetary"), "customer_id")
    n = F.count(F.lit(1)).over(tier.rowsBetween(W.unboundedPreceding, W.unboundedFollowing))
    place = F.row_number().over(from_top)          # 1 = the most monetary
    # The share as an exact decimal: 0.1 x 30 is 3 candidates, not ceil(3.0000000000000004).
    ascending = n - place + 1
    middle = (ascending == F.floor((n + 1) / 2)) | (ascending == F.ceil((n + 1) / 2))
    return customers.select(
        "*", (place <= F.ceil(F.lit(top_share).cast(RATE) * n)).alias("is_candidate"),
        middle.alias("is_middle"))


def upgrade_report(rows: list, ladder: list[int]) -> str:
    """rfm_upgrade_simulation rows as a text table, each scenario's steps from the
    lowest tier up."""
    lines = ["upgrade simulation (assumed conversion rates, not a measured effect):",
             f"{'scenario':<20} {'step':>7} {'candidates':>10} {'gap per head':>13} "
             f"{'rate':>5} {'upgrades':>9} {'uplift':>14} {'share':>7}"]
    for row in sorted(rows, key=lambda r: (r.scenario, ladder.index(r.from_grade))):
        per_head = row.gap_total / row.candidates if row.candidates else 0
        lines.append(f"{row.scenario:<20} {row.from_grade:>3} -> {row.to_grade:<1} "
                     f"{row.candidates:>10,} {per_head:>13,.2f} {row.conversion_rate:>5.0%} "
                     f"{row.expected_upgrades:>9,.0f} {row.expected_uplift:>14,.2f} "
                     f"{row.uplift_share:>7.2%}")
    return "\n".join(lines)
