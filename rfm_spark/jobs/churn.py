"""Churn risk and customer value for a run's customers: MLlib models beside BG/NBD.

    rfm-churn --config conf/default.yaml --input PATH --lakehouse DIR --run-id RUN \\
        [--format ...] [--set churn.horizon_days=60 ...]
    spark-submit jobs/churn.py <same arguments>

RUN is a succeeded segmentation run: its as-of date is the scoring date and its customers
are the ones scored; the transactions, read and cleaned by the config as the run was,
give the history. Writes rfm_churn_models and rfm_churn_scores, and saves the model.
Exit codes: 0 done, 2 bad configuration or arguments (an unknown run, ...), 1 the job
failed (a history shorter than the horizon, too few churned or retained customers, ...).
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark import cli
from rfm_spark.churn import summary, train_churn


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-churn", description=__doc__.splitlines()[0])
    cli.add_config_arguments(parser)
    parser.add_argument("--run-id", required=True, help="a succeeded segmentation run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _churn(args))


def _churn(args: argparse.Namespace) -> int:
    config, spark = cli.start(args, "rfm_spark churn")
    result = train_churn(spark, cli.config_lakehouse(config), args.run_id, config)
    record = result.record
    print(f"\nchurn model {record['model_id']} ({record['model']}, label {record['label']}, "
          f"{record['horizon_days']}-day horizon) for run {record['run_id']} as of "
          f"{record['as_of_date']}: {record['training_rows']:,} training rows, validated on "
          f"{record['observation_dates'][-1]} ({record['validation_rows']:,} rows)")
    print(summary.metrics_report(record))
    print(f"\nstrongest features ({record['model']}):")
    print(summary.importances_report(record, record["model"]))
    print("\nchurn x value grid:")
    print(summary.grid_report(summary.grid_cells(result.scores).collect()))  # a cell per row
    print(f"\nmodel saved to {record['model_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
