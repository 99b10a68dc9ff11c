"""How the basket job's tables are written: a run's rules of one level, its
recommendations, and a holdout's evaluation are each replaced in one commit, so a
reader sees the old rows or the new ones, never a mix; the rules are written before
the recommendations drawn from them."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from rfm_spark import names
from rfm_spark.lakehouse.protocol import refresh_views
from rfm_spark.lakehouse.storage import Lakehouse
from rfm_spark.tables import BASKET_EVALUATION, BASKET_RULES, RECOMMENDATIONS


def replace_rules(spark: SparkSession, lakehouse: Lakehouse, rules: DataFrame, run_id: str,
                  level: str, recommendations: DataFrame) -> None:
    """The run's rules of `level`, then its recommendations, each in its declared columns."""
    for table in (BASKET_RULES, RECOMMENDATIONS):
        lakehouse.ensure(spark, table, table.layout())
    of_run = f"run_id = {names.sql_string(run_id)}"
    lakehouse.replace(rules, BASKET_RULES.name, f"{of_run} AND level = {names.sql_string(level)}")
    lakehouse.replace(recommendations, RECOMMENDATIONS.name, of_run)
    _views(spark, lakehouse, [BASKET_RULES.name, RECOMMENDATIONS.name])


def replace_evaluation(spark: SparkSession, lakehouse: Lakehouse, rows: DataFrame, run_id: str,
                       level: str, holdout_days: int) -> None:
    lakehouse.ensure(spark, BASKET_EVALUATION, BASKET_EVALUATION.layout())
    lakehouse.replace(rows, BASKET_EVALUATION.name,
                      f"run_id = {names.sql_string(run_id)} AND level = "
                      f"{names.sql_string(level)} AND holdout_days = {int(holdout_days)}")
    _views(spark, lakehouse, [BASKET_EVALUATION.name])


def _views(spark: SparkSession, lakehouse: Lakehouse, tables: list[str]) -> None:
    if lakehouse.database:
        refresh_views(spark, lakehouse, tables)
