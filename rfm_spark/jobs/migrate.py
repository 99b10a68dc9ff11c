"""Write and print how customers moved between two succeeded runs (rfm_migrations).

    rfm-migrate --lakehouse DIR --from-run A --to-run B [--level group]
    spark-submit jobs/migrate.py <same arguments>

Replaces the pair's rows of rfm_migrations in one Delta commit, at every segment level.
Exit codes: 0 done, 2 bad arguments or a run that does not exist or did not succeed.
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark import cli, names
from rfm_spark.migration import LEVELS
from rfm_spark.pipeline import migrate
from rfm_spark.report import transition_matrix, transition_report
from rfm_spark.session import get_spark


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-migrate", description=__doc__.splitlines()[0])
    cli.add_output_arguments(parser)
    parser.add_argument("--from-run", required=True, help="run id of the earlier run")
    parser.add_argument("--to-run", required=True, help="run id of the later run")
    parser.add_argument("--level", choices=LEVELS, default="group",
                        help="level of the matrix to print (all levels are written)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _migrate(args))


def _migrate(args: argparse.Namespace) -> int:
    lakehouse = cli.output_lakehouse(args)
    names.check_run_id(args.from_run)
    names.check_run_id(args.to_run)
    spark = get_spark("rfm_spark migrate")
    lakehouse.check(spark, runs_needed=True)
    migrations = migrate(spark, lakehouse, args.from_run, args.to_run)
    print(f"\ncustomers by {args.level}, {args.from_run} (rows) -> {args.to_run} (columns):")
    print(transition_report(transition_matrix(migrations, args.level)))
    print(f"table: {lakehouse.location('rfm_migrations')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
