"""One local Spark session with Delta for the whole test run."""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[1]

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


@pytest.fixture
def golden(tmp_path):
    """The golden fixture as a CSV file; test_pipeline.py works out its results by hand."""
    path = tmp_path / "golden.csv"
    path.write_text(GOLDEN_CSV)
    return str(path)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run the venv's Python
    session = (
        SparkSession.builder.master("local[2]")
        .appName("rfm_spark tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
        .getOrCreate()
    )
    yield session
    session.stop()


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


BACKFILL_DATES = ("2020-05-31", "2020-08-31", "month")  # 4 month ends


@pytest.fixture(scope="session")
def backfilled(spark, tmp_path_factory):
    """Generated H&M-shaped data (parquet) and a lakehouse with 4 monthly runs of it."""
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
