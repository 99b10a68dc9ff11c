"""How sure a rule is: Fisher's exact test of a positive association between antecedent
and consequent in the value's baskets, and the Benjamini-Hochberg adjustment across the
value's mined rules.

A rule's 2 x 2 table is fixed by four counts: baskets N, with the antecedent A, with the
consequent C, with both k. Under independence k is hypergeometric (N, A, C), and the
one-sided p-value is P(K >= k). The driver computes it once per distinct (N, A, C, k):
rules share counts, and there are at most `basket.max_combinations` of them.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window as W
from pyspark.sql import functions as F
import numpy as np
from scipy import stats

from rfm_spark.errors import InputError

COUNTS = ["level_baskets", "antecedent_baskets", "consequent_baskets", "baskets"]


def fisher_greater(n, antecedent, consequent, both):
    """P(K >= both) for K ~ Hypergeometric(n baskets, antecedent of them, consequent
    drawn): Fisher's exact test, one-sided, of more baskets with both than chance.
    Integers give a float; arrays of them, an array (one vectorised scipy call)."""
    return stats.hypergeom.sf(np.asarray(both) - 1, n, antecedent, consequent)[()]


def with_p_values(spark: SparkSession, rules: DataFrame, max_combinations: int) -> DataFrame:
    """`rules` with p_value, computed on the driver per distinct count combination."""
    combinations = rules.select(*COUNTS).distinct()
    found = combinations.count()
    if found > max_combinations:
        raise InputError(f"{found:,} distinct rule counts to test: more than "
                         f"basket.max_combinations ({max_combinations:,}); raise "
                         "basket.min_baskets or min_confidence")
    rows = combinations.collect()  # at most max_combinations rows of four integers
    counts = np.array(rows, dtype=np.int64).reshape(-1, len(COUNTS))
    p_values = fisher_greater(*counts.T)
    tested = spark.createDataFrame(
        [(*map(int, row), float(p)) for row, p in zip(counts, p_values)],
        "level_baskets bigint, antecedent_baskets bigint, consequent_baskets bigint, "
        "baskets bigint, p_value double")
    return rules.join(F.broadcast(tested), COUNTS)


def with_adjusted(rules: DataFrame) -> DataFrame:
    """`rules` with p_value_adjusted: Benjamini-Hochberg within each value, over all
    its rules. With the p-values of a value's m rules in ascending order p(1..m), the
    adjusted p(i) is min over j >= i of m p(j) / j, at most 1."""
    by_value = W.partitionBy("value")
    ascending = by_value.orderBy("p_value", F.array_join("antecedent", "\u001f"),
                                 F.array_join("consequent", "\u001f"))
    rank = F.row_number().over(ascending)
    m = F.count(F.lit(1)).over(by_value.rowsBetween(W.unboundedPreceding, W.unboundedFollowing))
    scaled = rules.withColumn("_scaled", F.col("p_value") * m / rank).withColumn("_rank", rank)
    from_the_top = by_value.orderBy(F.desc("_rank")).rowsBetween(W.unboundedPreceding,
                                                                 W.currentRow)
    return (scaled.withColumn("p_value_adjusted",
                              F.least(F.lit(1.0), F.min("_scaled").over(from_the_top)))
            .drop("_scaled", "_rank"))
