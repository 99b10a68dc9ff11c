"""What a run read, as one string: a sha256 of the input files' paths, sizes and
modification times (csv, parquet) or of the Delta table's path and version, followed by a
short description for people (`sha256:9f2c... 3 files, 1,204 bytes, newest 2024-...`).

A re-run of a run id compares it with the fingerprint stored in rfm_runs, so a run id is
not silently rewritten from other data (see `lakehouse.check_input_unchanged`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict

from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def input_fingerprint(spark: SparkSession, transactions: DataFrame, source: str | DataFrame,
                      input_format: str) -> str | None:
    """The fingerprint of a path input read into `transactions`; None for a DataFrame
    input (where it came from is unknown) or when the file system cannot be asked."""
    if not isinstance(source, str):
        return None
    try:
        if input_format == "delta":
            version = _delta_table_version(spark, source)
            return fingerprint_text([[source, version]], f"Delta table version {version}")
        files = _file_statuses(spark, transactions.inputFiles())
        return fingerprint_text(files, _describe_files(files))
    except Exception as error:  # a safety net only: never the reason a run fails
        log.warning("%s: no input fingerprint (%s: %s)", source, type(error).__name__, error)
        return None


def fingerprint_text(parts: list, description: str) -> str:
    digest = hashlib.sha256(json.dumps(sorted(parts)).encode()).hexdigest()
    return f"sha256:{digest} {description}"


def same_input(stored: str, current: str) -> bool:
    """Compares the hashes only: a description worded differently is the same input."""
    return stored.split(" ", 1)[0] == current.split(" ", 1)[0]


def description(fingerprint: str) -> str:
    return fingerprint.split(" ", 1)[-1]


def _describe_files(files: list[tuple[str, int, int]]) -> str:
    newest = max((modified for _, _, modified in files), default=0)
    when = dt.datetime.fromtimestamp(newest / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return (f"{len(files):,} file{'s' if len(files) != 1 else ''}, "
            f"{sum(size for _, size, _ in files):,} bytes, newest modified {when} UTC")


def _file_statuses(spark: SparkSession, paths: list[str]) -> list[tuple[str, int, int]]:
    """(path, size, modification time in ms) of each file, sorted. Asks Hadoop's file
    system, so object stores work too; one listing per folder rather than one request
    per file, as inputs are often thousands of files in a few folders."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    names_by_folder: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        names_by_folder[hadoop_path.getParent().toString()].add(hadoop_path.getName())
    statuses = []
    for folder, names in names_by_folder.items():
        folder_path = jvm.org.apache.hadoop.fs.Path(folder)
        for status in folder_path.getFileSystem(conf).listStatus(folder_path):
            if status.getPath().getName() in names:
                statuses.append((f"{folder}/{status.getPath().getName()}", status.getLen(),
                                 status.getModificationTime()))
    return sorted(statuses)


def _delta_table_version(spark: SparkSession, path: str) -> int:
    from delta.tables import DeltaTable
    return DeltaTable.forPath(spark, path).history(1).first().version
