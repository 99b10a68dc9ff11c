"""One Spark session with Delta for the whole test run: a local one, or, in the Connect
lane (`RFM_TEST_CONNECT=1 pytest -m connect`, which `make test` runs after the local
lane), a client of a
Spark Connect server started here in its own process, so this process has no JVM."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONNECT = os.environ.get("RFM_TEST_CONNECT") == "1"

# t_dat, customer_id, price. As of = last valid date = 2024-01-10.
GOLDEN_CSV = """t_dat,customer_id,price
2024-01-10,c01,10
2024-01-10,c01,5
2024-01-05,c01,20
2024-01-10,c02,100
not-a-date,c02,3
2024-01-09,c03,7
2024-01-03,c03,7
2024-01-01,c03,6
2024-01-08,c04,50
2024-01-02,c04,10
2024-01-08,c05,5
2024-01-07,c06,30
2024-01-06,c06,30
2024-01-05,c07,1
2024-01-04,c08,200
2024-01-03,c08,1
2024-01-02,c08,1
2024-01-01,c08,1
2024-01-02,c09,20
2024-01-01,00010,60
2024-01-05,,99
"""

SESSION_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.databricks.delta.snapshotPartitions": "2",
}


def pytest_collection_modifyitems(config, items):
    """The Connect lane runs the tests marked `connect` only."""
    if not CONNECT:
        return
    skip = pytest.mark.skip(reason="the Connect lane runs the tests marked connect")
    for item in items:
        if "connect" not in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def golden(tmp_path):
    """The golden fixture as a CSV file; test_pipeline.py works out its results by hand."""
    path = tmp_path / "golden.csv"
    path.write_text(GOLDEN_CSV)
    return str(path)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from rfm_spark.logs import quiet
    quiet(30)
    warehouse = str(tmp_path_factory.mktemp("warehouse"))
    if CONNECT:
        yield from _connect_session(tmp_path_factory, warehouse)
        return
    from pyspark.sql import SparkSession
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run the venv's Python
    builder = SparkSession.builder.master("local[2]").appName("rfm_spark tests")
    for key, value in {**SESSION_CONF, "spark.sql.warehouse.dir": warehouse}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    yield session
    session.stop()


def _connect_session(tmp_path_factory, warehouse):
    """A Spark Connect server (`spark-submit` of Spark's SparkConnectServer, with the
    Delta jars and extension from the venv's spark-defaults.conf) and a client of it."""
    from pyspark.sql import SparkSession
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = {**SESSION_CONF, "spark.sql.warehouse.dir": warehouse,
            "spark.connect.grpc.binding.port": str(port), "spark.driver.memory": "2g"}
    log = tmp_path_factory.mktemp("connect") / "server.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [str(REPO / ".venv/bin/spark-submit"), "--master", "local[2]",
             "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
             *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")],
             "spark-internal"], stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "PYSPARK_PYTHON": sys.executable})
    try:
        _wait_for(port, server, log)
        os.environ["SPARK_REMOTE"] = f"sc://127.0.0.1:{port}"
        session = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
        yield session
        session.stop()
    finally:
        server.terminate()
        server.wait(timeout=60)


def _wait_for(port: int, server: subprocess.Popen, log: Path, seconds: int = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Spark Connect server stopped:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"no Spark Connect server on port {port} after {seconds} s")


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def history(spark, location: str):
    """A Delta table's commits, oldest first (SQL: works over Spark Connect too)."""
    return spark.sql(f"DESCRIBE HISTORY delta.`{location}`").orderBy("version").collect()


BACKFILL_DATES = ("2020-06-30", "2020-08-31", "month")  # 3 month ends


@pytest.fixture(scope="session")
def backfilled(spark, tmp_path_factory):
    """Generated H&M-shaped data (parquet) and a lakehouse with 3 monthly runs of it."""
    import datetime as dt
    from types import SimpleNamespace

    from rfm_spark import load_config
    from rfm_spark.lakehouse import Lakehouse
    from rfm_spark.pipeline import run_backfill
    from rfm_spark.schedule import as_of_dates
    from rfm_spark.synthetic import generate_transactions

    folder = tmp_path_factory.mktemp("backfilled")
    data, lake = str(folder / "transactions"), str(folder / "lake")
    generate_transactions(spark, 12_000, 600, seed=11).write.parquet(data)
    config = load_config([REPO / "conf/default.yaml"], settings={
        "input.format": "parquet", "output.lakehouse": lake})
    start, end, every = BACKFILL_DATES
    dates = as_of_dates(dt.date.fromisoformat(start), dt.date.fromisoformat(end), every)
    results = run_backfill(spark, config, dates, data)
    return SimpleNamespace(data=data, lake=Lakehouse(root=lake), config=config, dates=dates,
                           results=results)


@pytest.fixture(scope="session")
def generated_csv(tmp_path_factory):
    """About 30,000 generated H&M-shaped rows as CSV files, written by the generate job."""
    from rfm_spark.jobs import generate
    folder = tmp_path_factory.mktemp("generated") / "transactions"
    assert generate.main(["--output", str(folder), "--rows", "30000", "--seed", "5"]) == 0
    return str(folder)


@pytest.fixture(scope="session")
def cli_backfill(spark, generated_csv, tmp_path_factory):
    """Two runs nine days apart written by the backfill job, and what it printed."""
    import contextlib
    import io
    from types import SimpleNamespace

    from rfm_spark.jobs import backfill
    from rfm_spark.lakehouse import Lakehouse
    lake = str(tmp_path_factory.mktemp("cli_backfill") / "lake")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = backfill.main(["--config", str(REPO / "conf/default.yaml"), "--input",
                              generated_csv, "--lakehouse", lake, "--start", "2020-08-01",
                              "--end", "2020-08-15", "--every", "9 days"])
    assert code == 0
    lines = printed.getvalue().splitlines()
    ids = [line.split()[1].rstrip(":") for line in lines if line.startswith("run ")]
    return SimpleNamespace(lake=Lakehouse(root=lake), ids=ids, printed=printed.getvalue())
