"""Write a run's report: one HTML file of charts that opens offline.

    rfm-report --lakehouse DIR [--run-id RUN] [--output PATH.html]
    rfm-report --database NAME [--run-id RUN] [--output PATH.html]
    spark-submit jobs/report.py <same arguments>

RUN defaults to the latest succeeded run (latest as-of date). The file goes to --output,
or `rfm_report_<run>.html` beside a lakehouse folder on this machine, else into the
working folder; its path is printed. Exit codes: 0 done, 2 no such run, no run at all
or bad arguments.
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark import cli, names
from rfm_spark.html_report import write_report
from rfm_spark.session import get_spark


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-report", description=__doc__.splitlines()[0])
    cli.add_output_arguments(parser)
    parser.add_argument("--run-id", help="a succeeded run; default: the latest")
    parser.add_argument("--output", help="the HTML file to write (a path on this machine)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _report(args))


def _report(args: argparse.Namespace) -> int:
    if args.run_id is not None:
        names.check_run_id(args.run_id)
    lakehouse = cli.output_lakehouse(args)
    spark = get_spark("rfm_spark report")
    lakehouse.check(spark, runs_needed=True)
    print(f"report: {write_report(spark, lakehouse, args.run_id, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
