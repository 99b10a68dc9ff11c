"""What the basket job prints: each level value's strongest rules, and a holdout's hit
rates against the popular-items baseline (small aggregates)."""
from __future__ import annotations

from pyspark.sql import DataFrame, Window as W
from pyspark.sql import functions as F


def top_rules(rules: DataFrame, per_value: int = 3) -> list:
    """Each value's `per_value` rules with the highest lift (ties: confidence, baskets,
    then the items), at most values x per_value rows."""
    order = W.partitionBy("value").orderBy(F.desc("lift"), F.desc("confidence"),
                                           F.desc("baskets"), "antecedent", "consequent")
    return (rules.withColumn("_rank", F.row_number().over(order))
            .where(F.col("_rank") <= per_value).orderBy("value", "_rank")
            .collect())  # values x per_value rows


def rules_report(rows: list) -> str:
    lines = [f"{'value':<24} {'rule':<44} {'baskets':>8} {'conf.':>6} {'lift':>7} "
             f"{'pop. lift':>9} {'p adj.':>9}"]
    for row in rows:
        rule = f"{', '.join(row.antecedent)} -> {', '.join(row.consequent)}"
        lines.append(f"{row.value:<24} {rule:<44} {row.baskets:>8,} {row.confidence:>6.2f} "
                     f"{row.lift:>7.1f} {row.population_lift:>9.1f} "
                     f"{row.p_value_adjusted:>9.2g}")
    return "\n".join(lines)


def evaluation_report(rows: list) -> str:
    """rfm_basket_evaluation rows as a text table."""
    lines = [f"{'value':<24} {'customers':>10} {'hit rate':>9} {'precision':>9} "
             f"{'popular':>9}"]
    for row in sorted(rows, key=lambda r: -r.customers):
        lines.append(f"{row.value:<24} {row.customers:>10,} {row.hit_rate:>9.1%} "
                     f"{row.precision:>9.1%} {row.popular_hit_rate:>9.1%}")
    return "\n".join(lines)
