"""The one place a SparkSession is obtained."""
from __future__ import annotations

import os
import sys

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

# What the job needs from a session it builds. Only filled in where missing, so a
# cluster's spark-defaults.conf and `spark-submit --conf` always win.
_DEFAULTS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    # Delta reads its log with this many partitions; the default 50 is slow on small tables.
    "spark.databricks.delta.snapshotPartitions": "4",
}
# In local mode there are only a few cores: 200 shuffle partitions is mostly overhead,
# and Spark's 1g driver (the only executor) spends its time in garbage collection.
_LOCAL_DEFAULTS = {"spark.sql.shuffle.partitions": "16", "spark.driver.memory": "3g"}


def get_spark(app_name: str = "rfm_spark", extra_conf: dict[str, str] | None = None
              ) -> SparkSession:
    """Reuse the active session (Databricks, notebooks, tests); build one otherwise.

    A local session gets its Delta jars from SPARK_HOME/conf/spark-defaults.conf, which
    `make setup` writes; on a cluster, from `spark-submit --packages io.delta:...`.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # Under spark-submit the JVM is already up with the cluster's settings: connect
        # first, so SparkConf() reads them and setIfMissing below really only fills gaps.
        SparkContext._ensure_initialized()
    conf = SparkConf().setIfMissing("spark.master", "local[*]")
    if not conf.contains("spark.app.name"):
        conf.setAppName(app_name)
    defaults = dict(_DEFAULTS)
    if conf.get("spark.master").startswith("local"):
        defaults.update(_LOCAL_DEFAULTS)
        # Local Python workers must run this interpreter (the venv), not `python3` on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**defaults, **(extra_conf or {})}.items():
        conf.setIfMissing(key, value)
    return SparkSession.builder.config(conf=conf).getOrCreate()
