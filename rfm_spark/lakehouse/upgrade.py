"""How a stored run gets its upgrade simulation (`jobs/simulate.py`): the rows are
tagged with the run's succeeded attempt, as the run's own would be, and replace the
run's rows in one commit."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from rfm_spark import names
from rfm_spark.lakehouse.protocol import refresh_views
from rfm_spark.lakehouse.readers import RunInfo
from rfm_spark.lakehouse.storage import Lakehouse
from rfm_spark.tables import ATTEMPT, UPGRADE_SIMULATION


def replace_upgrade(spark: SparkSession, lakehouse: Lakehouse, run: RunInfo, rows: DataFrame
                    ) -> None:
    """`rows`: the run's rfm_upgrade_simulation rows without the attempt id."""
    layout = UPGRADE_SIMULATION.layout()
    lakehouse.ensure(spark, UPGRADE_SIMULATION, layout)
    tagged = rows.withColumn(ATTEMPT, F.lit(run.attempt_id).cast("string"))
    lakehouse.replace(tagged.select(*[name for name, _ in layout]), UPGRADE_SIMULATION.name,
                      f"run_id = {names.sql_string(run.run_id)}")
    if lakehouse.database:
        refresh_views(spark, lakehouse, [UPGRADE_SIMULATION.name])
