"""How a churn model's tables are written so that a reader never sees half a model: its
scores are appended first, tagged with the model id, then its rfm_churn_models row in one
commit; readers see scores only through that row (`read_table`, `v_rfm_churn_scores`).
A job killed between the two leaves scores no reader sees."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from rfm_spark.lakehouse.protocol import refresh_views
from rfm_spark.lakehouse.storage import Lakehouse
from rfm_spark.tables import CHURN_MODELS, CHURN_SCORES


def write_model(spark: SparkSession, lakehouse: Lakehouse, record: DataFrame, scores: DataFrame
                ) -> None:
    """Appends a model's scores, then its record (one row): both in their declared columns."""
    for table in (CHURN_MODELS, CHURN_SCORES):
        lakehouse.ensure(spark, table, table.layout())
    lakehouse.append(scores, CHURN_SCORES.name, CHURN_SCORES.layout())
    lakehouse.append(record, CHURN_MODELS.name, CHURN_MODELS.layout())
    if lakehouse.database:
        refresh_views(spark, lakehouse, [CHURN_MODELS.name, CHURN_SCORES.name])
