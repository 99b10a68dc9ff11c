"""Plan and judge a campaign: test and control arms in every segment, lift from later purchases.

    rfm-campaign assign --lakehouse DIR --run-id RUN --campaign-id ID [--segment NAME ...]
        [--group NAME ...] [--code PATTERN ...] [--control-share 0.5] [--seed N]
        [--start-date YYYY-MM-DD] [--export PATH.csv] [--force]
    rfm-campaign measure --lakehouse DIR --campaign-id ID --config conf/default.yaml
        --input PATH [--format ...] [--set k=v ...] [--window-days 30] [--min-response 0.03]
        [--cost-per-contact C --margin-per-response M]
    rfm-campaign migration --lakehouse DIR --campaign-id ID --to-run RUN [--level segment]
    spark-submit jobs/campaign.py <same arguments>

Exit codes: 0 done, 2 bad arguments (an unknown run or campaign, a selector that matches
nothing, ...), 1 a failed job (an input without purchases after the start date, ...).
"""
from __future__ import annotations

import argparse
import sys

from pyspark.sql import functions as F

from rfm_spark import cli
from rfm_spark.campaigns import (CampaignSpec, Decision, Selection, assign_campaign,
                                 campaign_migration, export_test_arm, measure_campaign)
from rfm_spark.migration import LEVELS
from rfm_spark.campaigns.summary import arms_report, campaign_report, ordered_results
from rfm_spark.report import transition_matrix, transition_report
from rfm_spark.session import get_spark


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-campaign", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    assign = commands.add_parser("assign", help="draw the test and control arms")
    cli.add_output_arguments(assign)
    assign.add_argument("--run-id", required=True, help="a succeeded segmentation run")
    assign.add_argument("--campaign-id", required=True)
    assign.add_argument("--segment", action="append", default=[], help="a segment name")
    assign.add_argument("--group", action="append", default=[], help="a group name")
    assign.add_argument("--code", action="append", default=[],
                        help="a code pattern, as in the rules (`1(2,3)*`)")
    assign.add_argument("--control-share", type=float, default=0.5)
    assign.add_argument("--seed", type=int, default=0)
    assign.add_argument("--start-date", type=cli.iso_date,
                        help="the day the campaign goes out (default: the run's as-of + 1)")
    assign.add_argument("--export", help="write the test arm as one CSV file here")
    assign.add_argument("--force", action="store_true",
                        help="draw a stored campaign id again with other arguments")

    measure = commands.add_parser("measure", help="response and lift per cell")
    cli.add_config_arguments(measure)
    measure.add_argument("--campaign-id", required=True)
    measure.add_argument("--window-days", type=int, default=30)
    measure.add_argument("--min-response", type=float, default=0.03,
                         help="send to cells whose test arm responds above this rate")
    measure.add_argument("--cost-per-contact", type=float)
    measure.add_argument("--margin-per-response", type=float)

    migration = commands.add_parser("migration", help="transitions of each arm to a later run")
    cli.add_output_arguments(migration)
    migration.add_argument("--campaign-id", required=True)
    migration.add_argument("--to-run", required=True)
    migration.add_argument("--level", choices=LEVELS, default="segment")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: COMMANDS[args.command](args))


def _assign(args: argparse.Namespace) -> int:
    lakehouse = cli.output_lakehouse(args)
    spec = CampaignSpec(args.campaign_id, args.run_id,
                        Selection(tuple(args.segment), tuple(args.group), tuple(args.code)),
                        args.control_share, args.seed, args.start_date)
    spec.check()
    spark = get_spark("rfm_spark campaign assign")
    lakehouse.check(spark, runs_needed=True)
    campaign = assign_campaign(spark, lakehouse, spec, force=args.force)
    record = campaign.record
    print(f"\ncampaign {record['campaign_id']} ({'drawn' if campaign.drawn else 'unchanged'}): "
          f"run {record['run_id']}, {record['selection']}, starts {record['start_date']}: "
          f"{record['members']:,} members, {record['test_members']:,} test, "
          f"{record['control_members']:,} control")
    print(arms_report(campaign.members.groupBy("segment_code", "segment", "arm").count()
                      .collect()))  # one row per cell and arm
    if args.export:
        print(f"test arm written to {export_test_arm(campaign, args.export)}")
    return 0


def _measure(args: argparse.Namespace) -> int:
    decide = Decision(args.min_response, args.cost_per_contact, args.margin_per_response)
    config, spark = cli.start(args, "rfm_spark campaign measure")
    lakehouse = cli.output_lakehouse(args)
    results = measure_campaign(spark, lakehouse, args.campaign_id, config,
                               window_days=args.window_days, decide=decide)
    print(campaign_report(ordered_results(results)))
    return 0


def _migration(args: argparse.Namespace) -> int:
    lakehouse = cli.output_lakehouse(args)
    spark = get_spark("rfm_spark campaign migration")
    lakehouse.check(spark, runs_needed=True)
    moves = campaign_migration(spark, lakehouse, args.campaign_id, args.to_run)
    for arm in ("test", "control"):
        print(f"\n{arm} arm, customers by {args.level} (rows: the campaign's run, "
              f"columns: {args.to_run}):")
        print(transition_report(transition_matrix(moves.where(F.col("arm") == arm),
                                                  args.level)))
    return 0


COMMANDS = {"assign": _assign, "measure": _measure, "migration": _migration}

if __name__ == "__main__":
    sys.exit(main())
