"""Generate an H&M-shaped transactions table (see rfm_spark/synthetic.py).

    rfm-generate --output data/sample/transactions --format csv [--rows N] [--churn-signal]
    rfm-generate --output DIR --campaign-id ID --lakehouse LAKE [--base-response 0.02]
        [--lift SEGMENT=0.05 ...] [--window-days 30]

The second form adds the purchases of a campaign's members in its window to DIR (files
added beside any there): every member buys with the base rate, test members of each
`--lift` segment with that much more, a planted effect a measurement should find.
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark import cli
from rfm_spark.errors import ConfigError
from rfm_spark.logs import stage
from rfm_spark.session import get_spark
from rfm_spark.synthetic import (FULL_SCALE_CUSTOMERS, FULL_SCALE_ROWS, campaign_responses,
                                 generate_transactions)

SAMPLE_ROWS = 1_000_000
ROWS_PER_CUSTOMER = FULL_SCALE_ROWS / FULL_SCALE_CUSTOMERS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-generate", description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="folder to write")
    parser.add_argument("--format", choices=["csv", "parquet", "delta"], default="csv")
    parser.add_argument("--rows", type=int, default=SAMPLE_ROWS,
                        help=f"about this many rows (full H&M scale: {FULL_SCALE_ROWS:,})")
    parser.add_argument("--customers", type=int,
                        help="default: rows / 23.17, H&M's rows per customer "
                             f"(full scale: {FULL_SCALE_CUSTOMERS:,})")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--churn-signal", action="store_true",
                        help="plant a churn driver: online-only customers stop buying on a day "
                             "of their own, store-only ones stay")
    parser.add_argument("--full-scale", action="store_true",
                        help=f"{FULL_SCALE_ROWS:,} rows and {FULL_SCALE_CUSTOMERS:,} customers")
    campaign = parser.add_argument_group("post-campaign purchases")
    campaign.add_argument("--campaign-id", help="add purchases of this campaign's members")
    cli.add_output_arguments(campaign)
    campaign.add_argument("--base-response", type=float, default=0.02,
                          help="share of every member who buys in the window")
    campaign.add_argument("--lift", action="append", default=[], metavar="SEGMENT=RATE",
                          help="extra response rate of the test arm of a segment")
    campaign.add_argument("--window-days", type=int, default=30)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _campaign(args) if args.campaign_id else _history(args))


def _history(args: argparse.Namespace) -> int:
    rows = FULL_SCALE_ROWS if args.full_scale else args.rows
    customers = FULL_SCALE_CUSTOMERS if args.full_scale else (
        args.customers or max(1, round(rows / ROWS_PER_CUSTOMER)))
    spark = get_spark("rfm_spark generate")
    with stage(f"generate {args.format} {args.output}") as counts:
        frame = generate_transactions(spark, rows, customers, args.seed,
                                      churn_signal=args.churn_signal)
        _write(frame, args, "overwrite")
        counts.update(rows=_written(spark, args).count(), customers=customers)
    return 0


def _campaign(args: argparse.Namespace) -> int:
    from rfm_spark.campaigns import read_members
    from rfm_spark.lakehouse.campaigns import stored_campaign
    lifts = dict(_lift(text) for text in args.lift)
    lakehouse = cli.output_lakehouse(args)
    spark = get_spark("rfm_spark generate")
    campaign = stored_campaign(spark, lakehouse, args.campaign_id)
    if campaign is None:
        raise ConfigError(f"{lakehouse.location('rfm_campaigns')}: no campaign "
                          f"{args.campaign_id!r}")
    with stage(f"generate responses to {args.campaign_id} into {args.output}") as counts:
        frame = campaign_responses(read_members(spark, lakehouse, args.campaign_id),
                                   campaign.start_date, args.window_days, args.base_response,
                                   lifts, args.seed)
        _write(frame, args, "append")
        counts.update(rows=frame.count())
    return 0


def _lift(text: str) -> tuple[str, float]:
    segment, _, rate = text.rpartition("=")
    try:
        return segment, float(rate)
    except ValueError:
        raise ConfigError(f"--lift {text!r}: give SEGMENT=RATE, e.g. 'Champions=0.05'") from None


def _write(frame, args: argparse.Namespace, mode: str) -> None:
    writer = frame.write.mode(mode).format(args.format)
    if args.format == "csv":
        writer = writer.option("header", True)
    writer.save(args.output)


def _written(spark, args: argparse.Namespace):
    return spark.read.format(args.format).option("header", True).load(args.output)


if __name__ == "__main__":
    sys.exit(main())
