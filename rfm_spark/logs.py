"""One log format for the jobs, and a timer that logs each stage's rows and seconds."""
from __future__ import annotations

import contextlib
import logging
import time
from typing import Iterator

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("rfm_spark")


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    quiet(logging.WARNING)


def quiet(level: int) -> None:
    """Spark's Python loggers: py4j's chatter, and PySpark's query-context log, which
    reports errors the library catches and handles (a table that does not exist yet)."""
    logging.getLogger("py4j").setLevel(level)
    logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.CRITICAL)


@contextlib.contextmanager
def stage(name: str) -> Iterator[dict]:
    """Times a stage; the block fills the yielded dict with the counts to report."""
    counts: dict = {}
    started = time.perf_counter()
    log.info("%s: started", name)
    yield counts
    details = ", ".join(f"{key}={value:,}" if isinstance(value, int) else f"{key}={value}"
                        for key, value in counts.items())
    log.info("%s: done in %.1f s%s", name, time.perf_counter() - started,
             f" ({details})" if details else "")
