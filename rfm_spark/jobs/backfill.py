"""Rebuild past snapshots: one run per as-of date, from one pass over the input.

    rfm-backfill --config conf/default.yaml --input PATH --lakehouse DIR \\
        --start 2019-09-30 --end 2020-08-31 --every month
    spark-submit jobs/backfill.py <same arguments>

Each run is written like a `rfm-segment --as-of DATE` run, with the same run id and the
same rows, and migrations from the previous run (output.migrate_from).
Exit codes: 0 done, 2 bad configuration or arguments, 1 the backfill failed.
"""
from __future__ import annotations

import argparse
import logging
import sys

from rfm_spark import cli
from rfm_spark.errors import ConfigError
from rfm_spark.pipeline import run_backfill
from rfm_spark.schedule import as_of_dates

log = logging.getLogger("rfm_spark.jobs.backfill")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-backfill", description=__doc__.splitlines()[0])
    cli.add_config_arguments(parser)
    parser.add_argument("--start", type=cli.iso_date, required=True, help="first as-of date")
    parser.add_argument("--end", type=cli.iso_date, required=True, help="last possible as-of date")
    parser.add_argument("--every", default="month",
                        help="month (default), week, or a number of days like '14 days'")
    parser.add_argument("--force", action="store_true",
                        help="replace runs written from other input (by default, re-running a "
                             "run id whose input files or Delta version changed is refused)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _backfill(args))


def _backfill(args: argparse.Namespace) -> int:
    try:
        dates = as_of_dates(args.start, args.end, args.every)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    config, spark = cli.start(args, "rfm_spark backfill")
    if config.metrics.as_of is not None:
        log.warning("metrics.as_of (%s) is ignored: each run uses its own as-of date",
                    config.metrics.as_of)
    log.info("backfill of %d as-of dates: %s .. %s", len(dates), dates[0], dates[-1])
    results = run_backfill(spark, config, dates, force=args.force)
    for result in results:
        moved = ", ".join(f"from {from_id}" for from_id, to_id in result.migrations
                          if to_id == result.run_id)
        print(f"run {result.run_id}: {result.valid_rows:,} rows used, "
              f"{result.customer_count:,} customers{'; migrations ' + moved if moved else ''}")
        if result.report_path is not None:
            print(f"  report: {result.report_path}")
    print(f"tables: {results[0].written_to.location('rfm_*')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
