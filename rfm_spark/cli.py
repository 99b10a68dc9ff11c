"""What the jobs in jobs/ share: the input and output arguments and how they become a
validated Config, so every job checks its configuration before Spark starts."""
from __future__ import annotations

import argparse
import datetime as dt

from rfm_spark.config import Config, ConfigError, load_config
from rfm_spark.lakehouse import Lakehouse
from rfm_spark.preflight import check_paths
from rfm_spark.pseudonymise import key_from_environment


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lakehouse", help="folder for the Delta tables (output.lakehouse)")
    parser.add_argument("--database", help="metastore schema or catalog.schema (output.database)")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", action="append", required=True,
                        help="YAML config; repeat to layer files (later files win key by key)")
    parser.add_argument("--input", help="input path (sets input.path)")
    parser.add_argument("--format", choices=["csv", "parquet", "delta"],
                        help="input format (sets input.format)")
    add_output_arguments(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key by its dotted path; wins over all")


def job_config(args: argparse.Namespace, require_output: bool = True, **settings) -> Config:
    """The layered config of a job, its local paths checked; raises ConfigError (also
    when no output is given, unless `require_output` is false) or InputError."""
    flags = {"input.path": args.input, "input.format": args.format,
             "output.lakehouse": args.lakehouse, "output.database": args.database, **settings}
    config = load_config(args.config, args.set,
                         {key: value for key, value in flags.items() if value is not None})
    if require_output and config.output.lakehouse is None and config.output.database is None:
        raise ConfigError("no output: give --lakehouse DIR or --database NAME")
    if config.input.pseudonymise.enabled:
        try:
            key_from_environment(config.input.pseudonymise.key_variable)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    check_paths(config)
    return config


def output_lakehouse(args: argparse.Namespace) -> Lakehouse:
    """The lakehouse of a job that only reads and writes run tables; raises ValueError."""
    if (args.lakehouse is None) == (args.database is None):
        raise ValueError("give exactly one of --lakehouse DIR or --database NAME")
    return Lakehouse(root=args.lakehouse, database=args.database)


def iso_date(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD dates."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
