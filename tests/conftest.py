"""One Spark session with Delta for the whole test run: a local one, or, in the Connect
lane (`RFM_TEST_CONNECT=1 pytest -m connect`, which `make test` runs after the local
lane), a client of a
Spark Connect server started here in its own process, so this process has no JVM."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
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
    # Hundreds of test tables: Delta's default keeps 10,000 logs (and their cached
    # snapshots) for an hour, which outgrew the driver's heap in CI.
    "spark.databricks.delta.delta.log.cacheSize": "32",
    "spark.driver.memory": "3g",
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
            "spark.connect.grpc.binding.port": str(port)}
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


# Mount points of a default file system that is not the driver's disk (Hadoop's viewfs).
VIEWFS = {
    "spark.hadoop.fs.defaultFS": "viewfs://rfm/",
    "spark.hadoop.fs.viewfs.mounttable.rfm.link./data": "file://{root}/data",
    "spark.hadoop.fs.viewfs.mounttable.rfm.link./lake": "file://{root}/lake",
    "spark.hadoop.fs.viewfs.mounttable.rfm.link./conf": "file://{root}/conf",
    "spark.hadoop.fs.viewfs.mounttable.rfm.link./tmp": "file:///tmp",
}
# Ids that pseudonymisation must keep out of every file and log: one in its column, one
# shifted into another by a short line, one in a rejected row, a numeric one.
LEAKY = """t_dat,customer_id,article_id,price,sales_channel_id
2020-03-01,SECRET-ID-7,1,5.00,1
2020-03-02,1,SECRET-ID-42,6.00
not-a-date,SECRET-ID-9,1,5.00,1
2020-03-03,17850,1,7.00,1
"""
SUBMITTED_JOBS = """
import sys
from rfm_spark.jobs import backfill, migrate, segment
ids = [f"{date}_{digest}" for date, digest in zip(sys.argv[1::2], sys.argv[2::2])]
codes = [backfill.main(["--config", "/conf/default.yaml", "--input", "/data/tx",
                        "--format", "parquet", "--lakehouse", "/lake", "--start", "2020-07-31",
                        "--end", "2020-08-31"]),
         migrate.main(["--lakehouse", "/lake", "--from-run", ids[0], "--to-run", ids[1]]),
         segment.main(["--config", "/conf/default.yaml", "--input", "/data/leaky.csv",
                       "--lakehouse", "/lake/private", "--set",
                       "input.pseudonymise={enabled: true, key_variable: RFM_TEST_KEY}"])]
print("exit codes", codes)
sys.exit(max(codes))
"""


@pytest.fixture(scope="session")
def spark_submitted(spark, tmp_path_factory):
    """One `spark-submit` (one JVM, as on a cluster) running three jobs with viewfs as the
    default file system and Spark's event log on: a backfill and a migration of generated
    parquet input, and a pseudonymised run of LEAKY. test_paths and test_pseudonymise
    read what it did."""
    from types import SimpleNamespace

    from rfm_spark import load_config
    from rfm_spark.synthetic import generate_transactions
    root = tmp_path_factory.mktemp("submitted")
    generate_transactions(spark, 4_000, 200, seed=3).write.partitionBy("sales_channel_id") \
        .parquet(str(root / "data" / "tx"))
    (root / "data" / "leaky.csv").write_text(LEAKY)
    (root / "conf").mkdir()
    (root / "conf" / "default.yaml").write_text((REPO / "conf/default.yaml").read_text())
    (root / "events").mkdir()
    for path in ("/data/tx", "/lake", "/conf"):
        assert not os.path.exists(path)  # only on the default file system
    script = root / "jobs.py"
    script.write_text(SUBMITTED_JOBS)
    config = load_config([REPO / "conf/default.yaml"], ["input.format=parquet"]) \
        .with_input_path("viewfs://rfm/data/tx")
    ids = [arg for date in (dt.date(2020, 7, 31), dt.date(2020, 8, 31))
           for arg in (date.isoformat(), config.with_as_of(date).sha256[:8])]
    settings = {**VIEWFS, "spark.eventLog.enabled": "true", "spark.eventLog.compress": "false",
                "spark.eventLog.dir": f"file://{root}/events",
                "spark.sql.shuffle.partitions": "8",
                # AQE would rightly merge partitions this small into one task: keep all 8.
                "spark.sql.adaptive.coalescePartitions.enabled": "false"}
    conf = [arg for key, value in settings.items()
            for arg in ("--conf", f"{key}={value.format(root=root)}")]
    done = subprocess.run([str(REPO / ".venv/bin/spark-submit"), *conf, str(script), *ids],
                          cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**{k: v for k, v in os.environ.items()
                                  if not k.startswith(("PYSPARK", "SPARK_"))},
                               "RFM_TEST_KEY": "s3cret"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return SimpleNamespace(done=done, root=root)


HM_CONFIGS = ["--config", str(REPO / "conf/default.yaml"), "--config",
              str(REPO / "conf/sources/hm.yaml")]


def plotly_page(path: Path, charts: int) -> str:
    """A chart page as the notebooks' `figure_display` writes it: `charts` charts,
    plotly.js inlined exactly once, nothing fetched."""
    from plotly.offline import get_plotlyjs
    html = path.read_text()
    assert html.count(get_plotlyjs()) == 1 and "<script src=" not in html, path
    assert html.count("Plotly.newPlot(") == charts, path
    return html


def run_job(main, *argv) -> tuple[int, str]:
    """A job's `main` called in this process: its exit code and what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(list(argv))
    return code, printed.getvalue()


@pytest.fixture(scope="session")
def hm_run(spark, tmp_path_factory):
    """Generated H&M-shaped data with the planted churn signal and co-purchases (200,000
    rows, 20,000 customers) and one run of it (`source:hm`), in a lakehouse that the
    churn, basket and simulation tests add their tables to."""
    from types import SimpleNamespace

    from rfm_spark.jobs import generate, segment
    from rfm_spark.lakehouse import Lakehouse, read_table
    folder = tmp_path_factory.mktemp("hm_run")
    data, root = str(folder / "transactions"), str(folder / "lake")
    assert run_job(generate.main, "--output", data, "--rows", "200000", "--customers", "20000",
                   "--seed", "5", "--churn-signal")[0] == 0
    assert run_job(segment.main, *HM_CONFIGS, "--input", data, "--lakehouse", root)[0] == 0
    run = read_table(spark, Lakehouse(root=root), "rfm_runs").first()
    return SimpleNamespace(data=data, root=root, lakehouse=Lakehouse(root=root),
                           run_id=run.run_id, as_of=run.as_of_date, folder=folder)
