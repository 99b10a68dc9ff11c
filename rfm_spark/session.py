"""The one place a SparkSession is obtained, and what the library asks of it.

`get_spark` reuses the active session (Databricks, notebooks, tests, Spark Connect),
connects to a remote one when `SPARK_REMOTE` or `spark.remote` says so, and otherwise
builds a local one. The library never sets a session-wide property for good: `settings`
sets some for the length of a run and restores them, and says clearly which one a session
(Databricks serverless) refuses. `caching` tells whether `cache()` may be used there.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Iterator

from pyspark.sql import DataFrame, SparkSession

from rfm_spark.errors import RfmError

log = logging.getLogger(__name__)

# What a session the job builds needs. Only filled in where missing, so a cluster's
# spark-defaults.conf and `spark-submit --conf` always win.
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
CACHE_SETTING = "RFM_CACHE"  # auto (default), on, off


def get_spark(app_name: str = "rfm_spark", extra_conf: dict[str, str] | None = None
              ) -> SparkSession:
    """The active session as it is; a Spark Connect session when `SPARK_REMOTE` (or the
    `spark.remote` setting) names a server; otherwise a local session with Delta, whose
    jars come from SPARK_HOME/conf/spark-defaults.conf (`make setup`) or, on a cluster,
    from `spark-submit --packages io.delta:...`."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("SPARK_REMOTE") or os.environ.get("SPARK_CONNECT_MODE_ENABLED"):
        return SparkSession.builder.appName(app_name).getOrCreate()  # the server's settings
    from pyspark import SparkConf, SparkContext  # classic only: Connect clients have no JVM
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        # Under spark-submit the JVM is already up with the cluster's settings: connect
        # first, so SparkConf() reads them and setIfMissing below really only fills gaps.
        SparkContext._ensure_initialized()
    conf = SparkConf()
    if conf.contains("spark.remote"):
        return SparkSession.builder.remote(conf.get("spark.remote")).appName(app_name).getOrCreate()
    conf.setIfMissing("spark.master", "local[*]")
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


def is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


@contextlib.contextmanager
def settings(spark: SparkSession, wanted: dict[str, str], why: str) -> Iterator[None]:
    """Sets session properties for the block and restores them after it; a property the
    session refuses (Databricks serverless allows only some) fails with one line naming
    it and `why` it is needed."""
    before: dict[str, str | None] = {}
    try:
        for key, value in wanted.items():
            previous = spark.conf.get(key, None)
            if previous == value:
                continue
            try:
                spark.conf.set(key, value)
            except Exception as error:
                raise RfmError(f"this Spark session does not allow setting {key} ({why}); "
                               f"set it where the cluster is configured: "
                               f"{str(error).splitlines()[0]}") from None
            before[key] = previous
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


_CACHING: dict[int, bool] = {}


def caching(spark: SparkSession) -> bool:
    """Whether `cache()` works in this session: RFM_CACHE=on/off, or found out once
    (Databricks serverless refuses it)."""
    setting = os.environ.get(CACHE_SETTING, "auto").lower()
    if setting in ("on", "off"):
        return setting == "on"
    key = id(spark)
    if key not in _CACHING:
        try:
            spark.range(1).cache().unpersist()
            _CACHING[key] = True
        except Exception as error:
            log.info("this session does not cache (%s); results are recomputed instead",
                     str(error).splitlines()[0])
            _CACHING[key] = False
    return _CACHING[key]


class Caches:
    """Frames cached for a stage and released together (`with Caches(spark) as cache`);
    where the session cannot cache, frames pass through and Spark recomputes them."""

    def __init__(self, spark: SparkSession):
        self.enabled = caching(spark)
        self._frames: list[DataFrame] = []

    def __call__(self, frame: DataFrame) -> DataFrame:
        if not self.enabled:
            return frame
        cached = frame.cache()
        self._frames.append(cached)
        return cached

    def release(self) -> None:
        for frame in self._frames:
            frame.unpersist()
        self._frames.clear()

    def __enter__(self) -> Caches:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
