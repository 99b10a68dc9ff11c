"""Write and print how customers moved between two succeeded runs (rfm_migrations).

    python jobs/migrate.py --lakehouse DIR --from-run A --to-run B [--level group]
    spark-submit jobs/migrate.py <same arguments>

Replaces the pair's rows of rfm_migrations in one Delta commit, at every segment level.
Exit codes: 0 done, 2 bad arguments or a run that does not exist or did not succeed.
"""
from __future__ import annotations

import argparse
import logging
import sys

from rfm_spark.cli import add_output_arguments, output_lakehouse
from rfm_spark.lakehouse import check_run_id
from rfm_spark.logs import configure_logging
from rfm_spark.migration import LEVELS
from rfm_spark.pipeline import migrate
from rfm_spark.preflight import check_lakehouse
from rfm_spark.read import InputError
from rfm_spark.report import transition_matrix, transition_report
from rfm_spark.session import get_spark

log = logging.getLogger("rfm_spark.jobs.migrate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_arguments(parser)
    parser.add_argument("--from-run", required=True, help="run id of the earlier run")
    parser.add_argument("--to-run", required=True, help="run id of the later run")
    parser.add_argument("--level", choices=LEVELS, default="group",
                        help="level of the matrix to print (all levels are written)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        lakehouse = output_lakehouse(args)
        if lakehouse.root is not None:
            check_lakehouse(lakehouse.root, runs_needed=True)
        check_run_id(args.from_run)
        check_run_id(args.to_run)
    except ValueError as error:
        log.error("%s", error)
        return 2
    spark = get_spark("rfm_spark migrate")
    try:
        migrations = migrate(spark, lakehouse, args.from_run, args.to_run)
    except InputError as error:
        log.error("%s", error)
        return 2
    print(f"\ncustomers by {args.level}, {args.from_run} (rows) -> {args.to_run} (columns):")
    print(transition_report(transition_matrix(migrations, args.level)))
    print(f"table: {lakehouse.location('rfm_migrations')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
