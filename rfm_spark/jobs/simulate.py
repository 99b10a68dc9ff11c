"""Simulate source 003's membership upgrade on a stored run (rfm_upgrade_simulation).

    rfm-simulate --lakehouse DIR --run-id RUN [--config extra.yaml] \\
        [--set 'simulation.upgrade.scenarios=[{name: measured, conversion: 0.12}]']
    spark-submit jobs/simulate.py <same arguments>

The run's own stored config is the base (its grades and, if it had one, its
`simulation.upgrade` section; otherwise the section's defaults); `--config` files and
`--set` layer on top. Replaces the run's rows of rfm_upgrade_simulation in one commit.
This is arithmetic on assumed conversion rates, not a causal estimate.
Exit codes: 0 done, 2 bad configuration or arguments (an unknown run, a rate outside
[0, 1], the wrong number of rates), 1 the job failed.
"""
from __future__ import annotations

import argparse
import sys

import yaml

from rfm_spark import cli, lakehouse as lh, names
from rfm_spark.config import load_config
from rfm_spark.session import get_spark
from rfm_spark.simulation import simulate_run, tier_ladder, upgrade_report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-simulate", description=__doc__.splitlines()[0])
    cli.add_output_arguments(parser)
    parser.add_argument("--run-id", required=True, help="a succeeded segmentation run")
    parser.add_argument("--config", action="append", default=[],
                        help="YAML layered over the run's stored config (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key by its dotted path; wins over all")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _simulate(args))


def _simulate(args: argparse.Namespace) -> int:
    lakehouse = cli.output_lakehouse(args)
    names.check_run_id(args.run_id)
    spark = get_spark("rfm_spark simulate")
    lakehouse.check(spark, runs_needed=True)
    run = lh.succeeded_run(spark, lakehouse, args.run_id)
    stored = lh.run_config(spark, lakehouse, run)
    config = load_config(args.config, args.set, settings={"simulation.upgrade": {}},
                         documents={f"run {run.run_id}'s config": yaml.safe_load(stored)})
    rows = simulate_run(spark, lakehouse, run, config)
    print(f"\nrun {run.run_id} (as of {run.as_of_date}):")
    print(upgrade_report(rows.collect(), tier_ladder(config.grading)))  # scenarios x steps
    print(f"table: {lakehouse.location('rfm_upgrade_simulation')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
