"""Cross-sell rules per segment of a run, and recommendations from them (source 000).

    rfm-basket --config conf/default.yaml --config source:hm --input PATH \\
        --lakehouse DIR --run-id RUN [--format ...] [--set basket.level=group ...] \\
        [--holdout-days 30]
    spark-submit jobs/basket.py <same arguments>

RUN is a succeeded segmentation run: its customers' segments (or groups) split the
baskets, and its as-of date ends them; the transactions, read and cleaned by the config
as the run was (a config that reads or cleans otherwise is refused), give the baskets
(`input.columns.item` mapped). Replaces the run's rows
of rfm_basket_rules and rfm_recommendations. With --holdout-days N, rules are mined up
to N days before the as-of date and the recommendations checked on the last N days:
only rfm_basket_evaluation is written.
Exit codes: 0 done, 2 bad configuration or arguments (no item column, an unknown run,
...), 1 the job failed.
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark import cli
from rfm_spark.basket import check_items, evaluate_holdout, mine_basket_rules, summary
from rfm_spark.errors import ConfigError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfm-basket", description=__doc__.splitlines()[0])
    cli.add_config_arguments(parser)
    parser.add_argument("--run-id", required=True, help="a succeeded segmentation run")
    parser.add_argument("--holdout-days", type=int, default=None,
                        help="mine up to N days before the as-of date and check the "
                             "recommendations on those days (writes rfm_basket_evaluation)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.run(lambda: _basket(args))


def _basket(args: argparse.Namespace) -> int:
    if args.holdout_days is not None and args.holdout_days < 1:
        raise ConfigError("--holdout-days must be at least 1")
    config, spark = cli.start(args, "rfm_spark basket", check=check_items)
    lakehouse = cli.config_lakehouse(config)
    level = config.basket.level
    if args.holdout_days is not None:
        rows = evaluate_holdout(spark, lakehouse, args.run_id, config, args.holdout_days)
        found = rows.collect()  # one row per level value
        print(f"\nrecommendations at {found[0].cutoff_date if found else '-'}, checked on the "
              f"{args.holdout_days} days after (by {level}):")
        print(summary.evaluation_report(found))
        print(f"table: {lakehouse.location('rfm_basket_evaluation')}")
        return 0
    result = mine_basket_rules(spark, lakehouse, args.run_id, config)
    counts = result.counts
    print(f"\nrun {args.run_id}: {counts['baskets']:,} baskets in {counts['values']} "
          f"{level} values ({counts['oversized']:,} left out: over basket.max_items); "
          f"{counts['rules_mined']:,} rules mined, {counts['rules_kept']:,} kept; "
          f"{counts['recommendations']:,} recommendations")
    print(summary.rules_report(summary.top_rules(result.rules)))
    print(f"tables: {lakehouse.location('rfm_basket_rules')}, "
          f"{lakehouse.location('rfm_recommendations')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
