"""Backfilled runs on generated data: equal to single runs, with migrations that add up."""
import dataclasses
import shutil

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from conftest import REPO, history
from rfm_spark import run_segmentation
from rfm_spark.lakehouse import Lakehouse, read_table
from rfm_spark.migration import LEVELS
from rfm_spark.pipeline import migrate

pytestmark = pytest.mark.e2e


def writing_to(config, lake, as_of):
    """The backfill's config for a single run at `as_of`, written to `lake`."""
    return dataclasses.replace(config.with_as_of(as_of),
                               output=dataclasses.replace(config.output, lakehouse=lake.root))


def level_sizes(customers):
    """Customers and monetary per run, level and value, from rfm_customers."""
    values = F.explode(F.array(*[F.struct(F.lit(level).alias("level"), F.col(level).alias("value"))
                                 for level in LEVELS]))
    return (customers.select("run_id", "monetary", values.alias("v"))
            .groupBy("run_id", "v.level", "v.value")
            .agg(F.count(F.lit(1)).alias("customers"), F.sum("monetary").alias("monetary")))


def assert_rows_and_columns_add_up(spark, lake):
    """For every stored pair and level: the rows from a value add up to its size in the
    earlier run, the rows to a value to its size in the later run (customers and money)."""
    migrations = read_table(spark, lake, "rfm_migrations")
    sizes = level_sizes(read_table(spark, lake, "rfm_customers"))
    pairs = migrations.select("from_run_id", "to_run_id").distinct()
    for side in ("from", "to"):
        got = (migrations.where(F.col(f"{side}_value").isNotNull())
               .groupBy("from_run_id", "to_run_id", "level", F.col(f"{side}_value").alias("value"))
               .agg(F.sum("customers").alias("customers"),
                    F.sum(f"monetary_{side}").alias("monetary")))
        expected = (pairs.join(sizes.withColumnRenamed("run_id", f"{side}_run_id"), f"{side}_run_id")
                    .select("from_run_id", "to_run_id", "level", "value", "customers", "monetary"))
        assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_one_succeeded_run_per_date_each_migrating_from_the_one_before(spark, backfilled):
    runs = read_table(spark, backfilled.lake, "rfm_runs").orderBy("as_of_date").collect()
    assert [r.as_of_date for r in runs] == backfilled.dates and len(runs) == 3
    assert all(r.input_rows == r.valid_rows + r.dropped_rows for r in runs)
    assert runs[0].dropped_by_reason["after_as_of"] > runs[-1].dropped_by_reason["after_as_of"]
    pairs = sorted((r.from_run_id, r.to_run_id) for r in read_table(
        spark, backfilled.lake, "rfm_migrations").select("from_run_id", "to_run_id")
        .distinct().collect())
    ids = [r.run_id for r in runs]
    assert pairs == sorted(zip(ids, ids[1:]))
    assert [r.migrations for r in backfilled.results] == [[]] + [[p] for p in zip(ids, ids[1:])]
    changes = {r.change for r in read_table(spark, backfilled.lake, "rfm_migrations")
               .select("change").distinct().collect()}
    assert changes == {"new", "same", "moved"}  # nobody is gone: a customer never un-buys
    assert_rows_and_columns_add_up(spark, backfilled.lake)


def test_backfill_equals_single_runs_row_for_row(spark, backfilled):
    as_of = backfilled.dates[-1]  # rows after it exist: the as-of rules apply
    single = run_segmentation(spark, backfilled.config.with_as_of(as_of), backfilled.data,
                              write=False)
    run_id = backfilled.results[-1].run_id
    assert single.run_id == run_id

    def stored(table):
        return read_table(spark, backfilled.lake, table).where(F.col("run_id") == run_id)
    for table, frame in (("rfm_customers", single.customers), ("rfm_thresholds", single.thresholds),
                         ("rfm_rejects", single.rejects)):
        assert_df_equality(stored(table), frame, ignore_row_order=True, ignore_nullable=True)
    assert_approx_df_equality(stored("rfm_segments"), single.segments, 1e-9,
                              ignore_row_order=True, ignore_nullable=True)
    quality = {(r.check, r.scope): r for r in stored("rfm_quality").collect()}
    assert {(r.check, r.scope): (r.rows, r.amount) for r in single.quality} == {
        key: (r.rows, r.amount) for key, r in quality.items()}
    [run] = stored("rfm_runs").collect()
    assert (run.input_rows, run.valid_rows, run.dropped_by_reason, run.customers) == (
        single.input_rows, single.valid_rows, single.dropped_by_reason, single.customer_count)


def test_migrate_between_any_two_runs(spark, backfilled, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    shutil.copytree(backfilled.lake.root, lake.root)
    first, last = backfilled.results[0].run_id, backfilled.results[-1].run_id
    stored = migrate(spark, lake, first, last)
    by_change = {r.change: r["sum(customers)"] for r in stored.where("level = 'group'")
                 .groupBy("change").sum("customers").collect()}
    first_size, last_size = backfilled.results[0].customer_count, backfilled.results[-1].customer_count
    assert by_change["new"] == last_size - first_size and "gone" not in by_change
    assert by_change["same"] + by_change["moved"] == first_size
    assert_rows_and_columns_add_up(spark, lake)


def test_a_rerun_recomputes_its_migrations_once_and_time_travel_shows_the_old_state(
        spark, backfilled, tmp_path):
    lake = Lakehouse(root=str(tmp_path / "lake"))
    shutil.copytree(backfilled.lake.root, lake.root)
    rerun = backfilled.results[1]
    before = history(spark, lake.location("rfm_customers"))[-1].version
    # Re-run the second month on a third fewer customers: its migrations must change.
    fewer = (spark.read.parquet(backfilled.data)
             .where(F.xxhash64("customer_id") % 3 != 0))
    config = writing_to(backfilled.config, lake, rerun.as_of)
    result = run_segmentation(spark, config, fewer, run_id=rerun.run_id)
    assert result.customer_count < rerun.customer_count
    ids = [r.run_id for r in backfilled.results]
    assert result.migrations == [(ids[0], ids[1]), (ids[1], ids[2])]

    migrations = read_table(spark, lake, "rfm_migrations")
    assert migrations.count() == migrations.select(
        "from_run_id", "to_run_id", "level", "from_value", "to_value").distinct().count()
    assert migrations.select("from_run_id", "to_run_id").distinct().count() == 2
    gone = migrations.where(f"from_run_id = '{ids[0]}' AND level = 'group' AND change = 'gone'")
    assert gone.groupBy().sum("customers").first()[0] > 0  # the dropped customers left
    assert_rows_and_columns_add_up(spark, lake)

    old = (spark.read.format("delta").option("versionAsOf", before).load(lake.location("rfm_customers"))
           .where(F.col("run_id") == rerun.run_id))
    assert old.count() == rerun.customer_count


def test_backfill_equals_single_runs_with_rate_churn_and_order_cut_points(spark):
    # Source 001's scheme with the churn period and the cheque cut points computed from the
    # data: both read the used rows, which a backfill takes from its per-day aggregate.
    import datetime as dt

    from rfm_spark import load_config
    from rfm_spark.pipeline import run_backfill
    from rfm_spark.synthetic import generate_transactions
    config = load_config(
        [REPO / "conf/default.yaml", REPO / "conf/presets/pharmacy_rfma.yaml"],
        ["metrics.churn_period={percentile: 95}",
         "grading.monetary={method: percentiles, at: [40, 80], of: orders, cuts: null}"])
    source = generate_transactions(spark, rows=6_000, customers=400, seed=11)
    dates = [dt.date(2020, 8, 31)]  # rows after it exist: the as-of rules apply
    backfilled = run_backfill(spark, config, dates, source, write=False)
    for result in backfilled:
        single = run_segmentation(spark, config.with_as_of(result.as_of), source, write=False)
        assert_df_equality(result.customers, single.customers, ignore_row_order=True,
                           ignore_nullable=True)
        assert_df_equality(result.thresholds, single.thresholds, ignore_row_order=True,
                           ignore_nullable=True)
