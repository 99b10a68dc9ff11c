"""What a run reads, found out through Spark so it works on every file system and over
Spark Connect: the input's files (path, size, modification time: a listing, no content
read) or its Delta table version, the input path as Spark resolves it, and one string
that fingerprints it all (`sha256:9f2c... 3 files, 1,204 bytes, newest modified ...`).

A re-run of a run id compares the fingerprint with the one stored in rfm_runs, so a run
id is not silently rewritten from other data (`lakehouse.protocol`). A Delta input is
read at the version fingerprinted, so every read of one run sees the same rows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from rfm_spark.errors import ConfigError, InputError
from rfm_spark.lakehouse.storage import missing_table

log = logging.getLogger(__name__)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)(//[^/]*)?(/.*)?$")


@dataclasses.dataclass(frozen=True)
class InputSnapshot:
    path: str                   # as given
    qualified: str              # as Spark resolves it: file:/data/tx, hdfs://nn/data/tx
    fingerprint: str | None     # None: could not be taken (the run says so)
    delta_version: int | None = None


class Unavailable(Exception):
    """The file system could not be listed although the path exists."""


def snapshot(spark: SparkSession, path: str, input_format: str) -> InputSnapshot:
    """Checks that the input exists and holds data, and fingerprints it. Raises
    ConfigError for a path with no files; InputError for a Delta folder given as files."""
    if input_format == "delta":
        return _delta_snapshot(spark, path)
    if _is_delta_table(spark, path):
        raise InputError(f"{path}: is a Delta table; read as {input_format} it would also "
                         "count the files Delta removed: use --format delta")
    try:
        files = _listing(spark, path)
    except Unavailable as error:
        log.warning("%s: NO INPUT FINGERPRINT: the file system could not be listed (%s); a "
                    "re-run of this run id will not be checked for changed input", path, error)
        return InputSnapshot(path, _normalized(path), None)
    if not files:
        raise ConfigError(f"{path}: no input files (none with data)")
    return InputSnapshot(path, qualified(path, files[0][0]),
                         fingerprint_text(files, _describe_files(files)))


def _listing(spark: SparkSession, path: str) -> list[tuple[str, int, int]]:
    """(path, size, modification time in ms) of every file Spark reads for `path`, sorted:
    Spark's own listing (globs, partitioned folders, hidden files left out), one row per
    file (inputs are thousands of files at most, never rows)."""
    try:
        listed = (spark.read.format("binaryFile").load(path)
                  .select("path", "length", F.unix_millis("modificationTime").alias("modified"))
                  .collect())  # one row per file
    except Exception as error:
        if "PATH_NOT_FOUND" in str(error):
            raise ConfigError(f"{path}: no input files (no such path)") from None
        raise Unavailable(str(error).splitlines()[0]) from error
    return sorted((row.path, row.length, row.modified) for row in listed)


def _is_delta_table(spark: SparkSession, path: str) -> bool:
    try:
        spark.read.format("delta").load(path).schema
        return True
    except Exception as error:
        if missing_table(error) or "PATH_NOT_FOUND" in str(error):
            return False
        raise


def _delta_snapshot(spark: SparkSession, path: str) -> InputSnapshot:
    table = "delta.`" + path.replace("`", "``") + "`"
    try:
        commit = spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").first()
        location = spark.sql(f"DESCRIBE DETAIL {table}").first()["location"]
    except Exception as error:
        if missing_table(error):
            raise ConfigError(f"{path}: no such Delta table") from None
        raise
    version = int(commit["version"])
    return InputSnapshot(path, _normalized(location),
                         fingerprint_text([[_normalized(location), version]],
                                          f"Delta table version {version}"), version)


def qualified(path: str, listed_file: str) -> str:
    """`path` as Spark resolves it, from one file it listed for it: `/x` and `file:/x`
    (and `file:///x`) are the same input, and a relative path is made absolute."""
    if _SCHEME.match(path):
        return _normalized(path)
    match = _SCHEME.match(listed_file)
    prefix = match.group(1) + (match.group(2) or "")
    file_path = match.group(3) or "/"
    if path.startswith("/"):
        return _normalized(prefix + path)
    # Relative: resolved against the file system's working folder, which is what the
    # listed file's path has before the path's last literal name (a file or a folder).
    parts = [part for part in path.split("/") if part not in ("", ".")]
    glob_at = next((i for i, part in enumerate(parts) if re.search(r"[*?\[{]", part)),
                   len(parts))
    if glob_at == len(parts) and file_path.endswith(f"/{parts[-1]}"):
        return _normalized(prefix + file_path)  # the file itself
    anchor = max(glob_at - 1, 0) if glob_at < len(parts) else len(parts) - 1
    cut = file_path.rfind(f"/{parts[anchor]}/") if glob_at > 0 else file_path.rfind("/")
    return _normalized(prefix + file_path[:max(cut, 0)] + "/" + "/".join(parts[anchor:]))


def _normalized(path: str) -> str:
    """One spelling per path: `file:///x` -> `file:/x`, no trailing slash."""
    path = re.sub(r"^file://(?=/)", "file:", path)
    return path.rstrip("/") if len(path) > 1 else path


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
