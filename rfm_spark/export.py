"""Files for other tools: a DataFrame as one CSV file, written by Spark (no rows pass
through the driver)."""
from __future__ import annotations

import glob
import os
import shutil

from pyspark.sql import DataFrame


def single_csv(frame: DataFrame, path: str) -> str:
    """Writes `frame` with a header as one CSV file at `path` and returns it. Spark
    writes one part file into `<path>.parts/`; on a local (or mounted, like /dbfs and
    /Volumes) path it becomes `path` itself, elsewhere the folder stays and is returned."""
    parts = path.rstrip("/") + ".parts"
    frame.coalesce(1).write.mode("overwrite").option("header", True).csv(parts)
    local = parts.removeprefix("file:")
    written = glob.glob(os.path.join(glob.escape(local), "part-*"))
    if len(written) != 1:
        return parts  # on a file system this process cannot see
    shutil.move(written[0], path.removeprefix("file:"))
    shutil.rmtree(local)
    return path
