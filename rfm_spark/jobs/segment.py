"""Segment customers and write the run to Delta tables.

    rfm-segment --config conf/default.yaml --input PATH --lakehouse DIR
    spark-submit jobs/segment.py <same arguments>
    rfm-segment --config ... --input PATH --dry-run    # print, write nothing

Exit codes: 0 done, 2 bad configuration or arguments, 1 the run failed.
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark import cli, names
from rfm_spark.pipeline import run_segmentation
from rfm_spark.report import quality_report, segment_report
from rfm_spark.simulation import tier_ladder, upgrade_report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-segment", description=__doc__.splitlines()[0])
    cli.add_config_arguments(parser)
    parser.add_argument("--as-of", help="YYYY-MM-DD; default: last transaction date")
    parser.add_argument("--run-id", help="default: the as-of date and a short config hash")
    parser.add_argument("--dry-run", action="store_true",
                        help="segment and print the summary, write nothing (no output needed)")
    parser.add_argument("--force", action="store_true",
                        help="replace runs written from other input (by default, re-running a "
                             "run id whose input files or Delta version changed is refused)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _segment(args))


def _segment(args: argparse.Namespace) -> int:
    if args.run_id is not None:
        names.check_run_id(args.run_id)
    config, spark = cli.start(args, "rfm_spark segment", require_output=not args.dry_run,
                              **{"metrics.as_of": args.as_of})
    result = run_segmentation(spark, config, run_id=args.run_id, write=not args.dry_run,
                              force=args.force)
    print(f"\nrun {result.run_id} (as of {result.as_of}): {result.input_rows:,} rows read, "
          f"{result.valid_rows:,} used, dropped {result.dropped_by_reason or 'none'}")
    print(quality_report(result.quality))
    print(segment_report(result.segments))
    if result.upgrade is not None:
        print(upgrade_report(result.upgrade.collect(),  # scenarios x steps rows
                             tier_ladder(config.grading)))
    for from_id, to_id in result.migrations:
        print(f"migrations written: {from_id} -> {to_id}")
    if result.written_to is not None:
        print(f"tables: {result.written_to.location('rfm_*')}")
    if result.report_path is not None:
        print(f"report: {result.report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
