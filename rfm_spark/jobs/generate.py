"""Generate an H&M-shaped transactions table (see rfm_spark/synthetic.py).

    rfm-generate --output data/sample/transactions --format csv [--rows N]
"""
from __future__ import annotations

import argparse
import sys

from rfm_spark.logs import configure_logging, stage
from rfm_spark.session import get_spark
from rfm_spark.synthetic import FULL_SCALE_CUSTOMERS, FULL_SCALE_ROWS, generate_transactions

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
    parser.add_argument("--full-scale", action="store_true",
                        help=f"{FULL_SCALE_ROWS:,} rows and {FULL_SCALE_CUSTOMERS:,} customers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    rows = FULL_SCALE_ROWS if args.full_scale else args.rows
    customers = FULL_SCALE_CUSTOMERS if args.full_scale else (
        args.customers or max(1, round(rows / ROWS_PER_CUSTOMER)))
    spark = get_spark("rfm_spark generate")
    with stage(f"generate {args.format} {args.output}") as counts:
        frame = generate_transactions(spark, rows, customers, args.seed)
        writer = frame.write.mode("overwrite").format(args.format)
        if args.format == "csv":
            writer = writer.option("header", True)
        writer.save(args.output)
        written = spark.read.format(args.format).option("header", True).load(args.output)
        counts.update(rows=written.count(), customers=customers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
