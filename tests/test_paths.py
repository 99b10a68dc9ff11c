"""Paths as Spark sees them: a default file system that is not the driver's disk,
partitioned input folders, compressed CSV, Hadoop globs, one input however it is spelled."""
import datetime as dt
import gzip
import json
import os

import pytest

from conftest import GOLDEN_CSV, REPO
from rfm_spark import load_config, run_segmentation
from rfm_spark.fingerprint import snapshot
from rfm_spark.lakehouse import Lakehouse, read_table

GOLDEN_LINES = GOLDEN_CSV.splitlines()
HEADER, ROWS = GOLDEN_LINES[0], GOLDEN_LINES[1:]

pytestmark = pytest.mark.e2e


def default_config(*overrides):
    return load_config([REPO / "conf/default.yaml"], list(overrides))


def test_compressed_csv_by_glob_and_partitioned_folders(spark, tmp_path):
    # The golden rows split over a gzip file and a plain one, chosen by a {a,b} glob, and
    # again as a hive-partitioned folder whose partition column is mapped (the channel).
    with gzip.open(tmp_path / "a.csv.gz", "wt") as first:
        first.write("\n".join([HEADER, *ROWS[:10]]) + "\n")
    (tmp_path / "b.csv").write_text("\n".join([HEADER, *ROWS[10:]]) + "\n")
    (tmp_path / "c.csv").write_text(HEADER + "\n2024-01-10,extra,1000\n")  # not matched
    by_glob = run_segmentation(spark, default_config(), f"{tmp_path}/{{a.csv.gz,b.csv}}",
                               write=False)
    assert (by_glob.input_rows, by_glob.customer_count) == (21, 10)

    for channel, rows in (("1", ROWS[:10]), ("2", ROWS[10:])):
        folder = tmp_path / "parts" / f"sales_channel_id={channel}"
        folder.mkdir(parents=True)
        (folder / "part-0.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    partitioned = run_segmentation(spark, default_config(
        "input.columns.channel=sales_channel_id", "input.order_key=[date, channel]"),
        str(tmp_path / "parts"), write=False)
    assert (partitioned.input_rows, partitioned.customer_count) == (21, 10)
    frequency = {r.customer_id: r.frequency for r in partitioned.customers.collect()}
    assert frequency["c08"] == 4 and frequency["c01"] == 2


def test_one_input_however_its_path_is_spelled(spark, golden, tmp_path):
    spellings = [golden, f"file:{golden}", f"file://{golden}", os.path.relpath(golden)]
    snapshots = [snapshot(spark, path, "csv") for path in spellings]
    assert {s.qualified for s in snapshots} == {f"file:{golden}"}
    assert len({s.fingerprint for s in snapshots}) == 1
    runs = {run_segmentation(spark, default_config(), path, write=False).run_id
            for path in spellings[:2]}
    assert len(runs) == 1


@pytest.mark.slow
def test_spark_submit_jobs_on_a_default_file_system_that_is_not_the_drivers_disk(
        spark, spark_submitted):
    """The jobs under `spark-submit`, as on a cluster, with Hadoop's viewfs as the
    default file system: the input `/data`, the lakehouse `/lake` and the config
    `/conf/default.yaml` exist only there (mounted from other folders), so nothing may
    check or read them as local files (conftest's `spark_submitted`). Spark's event log
    then shows that no task read (from a shuffle) as many records as there are customers,
    which a global sort or an unpartitioned window would."""
    done, root = spark_submitted.done, spark_submitted.root
    config = load_config([REPO / "conf/default.yaml"], ["input.format=parquet"])
    dates = [dt.date(2020, 7, 31), dt.date(2020, 8, 31)]
    ids = [f"{date}_{config.with_input_path('viewfs://rfm/data/tx').with_as_of(date).sha256[:8]}"
           for date in dates]
    assert "exit codes [0, 0, 0]" in done.stdout
    lake = Lakehouse(root=str(root / "lake"))
    runs = read_table(spark, lake, "rfm_runs").orderBy("as_of_date").collect()
    assert [r.run_id for r in runs] == ids
    assert {r.input_path for r in runs} == {"viewfs://rfm/data/tx"}
    pairs = {(r.from_run_id, r.to_run_id) for r in read_table(spark, lake, "rfm_migrations")
             .select("from_run_id", "to_run_id").distinct().collect()}
    assert pairs == {tuple(ids)}

    lines = [line for path in (root / "events").rglob("events_*") if path.is_file()
             for line in path.read_text().splitlines()]
    by_stage: dict[int, list[int]] = {}
    for event in map(json.loads, lines):
        if event["Event"] == "SparkListenerTaskEnd" and event.get("Task Metrics"):
            reads = event["Task Metrics"]["Shuffle Read Metrics"]["Total Records Read"]
            by_stage.setdefault(event["Stage ID"], []).append(reads)
    customers = min(run.customers for run in runs)
    # Stages that shuffle customer-level rows or more: spread over the 8 partitions, no
    # task reads half of them (one that holds them all reads them all).
    large = {stage: reads for stage, reads in by_stage.items() if sum(reads) >= customers}
    assert len(large) > 5
    for stage, reads in large.items():
        assert max(reads) < sum(reads) / 2, (stage, reads)
