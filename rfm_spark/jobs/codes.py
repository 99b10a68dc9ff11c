"""Print a scheme's full code table: every grade code with its segment, group, group
attributes, tags and actions, for review. Reads only the config; no Spark.

    rfm-codes --config conf/default.yaml --config preset:classic [--tsv]

Exit codes: 0 done, 2 bad configuration (e.g. codes covered by no segment, listed).
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark.config import ConfigError, code_table, load_config
from rfm_spark.registry import METRICS
from rfm_spark.report import code_table_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rfm-codes", description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True,
                        help="YAML config, or preset:NAME / source:NAME; repeat to layer files "
                             "(later files win key by key)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key by its dotted path")
    parser.add_argument("--tsv", action="store_true", help="tab-separated, for spreadsheets")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.set)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = code_table(config)
    metrics = " ".join(METRICS[m].letter for m in config.grading.metrics)
    if not args.tsv:
        print(f"{len(table)} codes ({metrics}, {'1' if config.grading.best == 'lowest' else 'top grade'}"
              f" = best), {len({e.segment for e in table.values()})} segments, "
              f"{len({e.group for e in table.values()})} groups")
    print(code_table_report(table, tsv=args.tsv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
