"""What the jobs share: their arguments, how arguments become a validated Config (before
Spark starts, unless a config file is on another file system), the checks made as soon
as Spark is up, and one way to end: a user's error is one line and exit code 2 (config,
arguments) or 1 (a failed run); anything else is a bug and shows its traceback."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
from typing import Callable

from pyspark.sql import SparkSession

from rfm_spark.config import Config, is_remote, load_config
from rfm_spark.errors import ConfigError, RfmError
from rfm_spark.lakehouse import Lakehouse
from rfm_spark.logs import configure_logging
from rfm_spark.names import sql_string
from rfm_spark.pseudonymise import pseudonymisation_key
from rfm_spark.session import get_spark

log = logging.getLogger("rfm_spark.jobs")


def run(job: Callable[[], int]) -> int:
    """Runs a job's body with the jobs' logging and exit codes."""
    configure_logging()
    try:
        return job()
    except RfmError as error:
        log.error("%s", error)
        return error.exit_code


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lakehouse", help="folder for the Delta tables (output.lakehouse)")
    parser.add_argument("--database", help="metastore schema or catalog.schema (output.database)")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", action="append", required=True,
                        help="YAML config, or preset:NAME / source:NAME; repeat to layer "
                             "files (later files win key by key)")
    parser.add_argument("--input", help="input path (sets input.path)")
    parser.add_argument("--format", choices=["csv", "parquet", "delta"],
                        help="input format (sets input.format)")
    add_output_arguments(parser)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key by its dotted path; wins over all")


def start(args: argparse.Namespace, app: str, require_output: bool = True,
          check: Callable[[Config], None] = lambda config: None, **settings
          ) -> tuple[Config, SparkSession]:
    """The job's config and session. The config is loaded and checked (also by the
    job's own `check`) before Spark starts (a config on another file system is read
    through Spark, once it is up); then what needs Spark is checked before any work:
    regular expressions as Spark runs them, and the lakehouse folder."""
    remote = [path for path in args.config if is_remote(path) or _elsewhere(path)]
    spark = get_spark(app) if remote else None
    config = job_config(args, require_output, read_text=_spark_text(spark) if spark else None,
                        **settings)
    check(config)
    spark = spark or get_spark(app)
    check_with_spark(spark, config)
    return config, spark


def job_config(args: argparse.Namespace, require_output: bool = True, read_text=None,
               **settings) -> Config:
    """The layered config of a job; raises ConfigError (also when no output is given,
    unless `require_output` is false)."""
    flags = {"input.path": args.input, "input.format": args.format,
             "output.lakehouse": args.lakehouse, "output.database": args.database, **settings}
    config = load_config(args.config, args.set,
                         {key: value for key, value in flags.items() if value is not None},
                         read_text=read_text)
    if require_output and config.output.lakehouse is None and config.output.database is None:
        raise ConfigError("no output: give --lakehouse DIR or --database NAME")
    if config.input.pseudonymise.enabled and config.input.pseudonymise.key_secret is None:
        pseudonymisation_key(config.input.pseudonymise)  # the variable is set
    return config


def check_with_spark(spark: SparkSession, config: Config) -> None:
    """What only a session can check: `clean.customer_id_pattern` as the Java regular
    expression Spark runs, the output lakehouse, a Databricks secret."""
    pattern = config.clean.customer_id_pattern
    if pattern is not None:
        try:
            spark.range(1).selectExpr("'' RLIKE " + sql_string(pattern)).collect()  # one row
        except Exception as error:
            raise ConfigError(f"'clean.customer_id_pattern' is not a regular expression "
                              f"Spark (Java) can run: {str(error).splitlines()[0]}") from None
    if config.input.pseudonymise.enabled and config.input.pseudonymise.key_secret is not None:
        pseudonymisation_key(config.input.pseudonymise)  # the secret can be read
    output = config.output
    if output.lakehouse is not None or output.database is not None:
        config_lakehouse(config).check(spark)


def config_lakehouse(config: Config) -> Lakehouse:
    """The lakehouse of a job's config (`output.database` wins, as in a run)."""
    output = config.output
    return Lakehouse(root=output.lakehouse if output.database is None else None,
                     database=output.database)


def output_lakehouse(args: argparse.Namespace) -> Lakehouse:
    """The lakehouse of a job that only reads and writes run tables; raises ConfigError."""
    if (args.lakehouse is None) == (args.database is None):
        raise ConfigError("give exactly one of --lakehouse DIR or --database NAME")
    return Lakehouse(root=args.lakehouse, database=args.database)


def iso_date(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD dates."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _elsewhere(path: str) -> bool:
    """A path without a scheme that is no file here: on the cluster's default file
    system (HDFS, DBFS), which only Spark reads."""
    return ":" not in path and not os.path.exists(path)


def _spark_text(spark: SparkSession) -> Callable[[str], str]:
    def read(path: str) -> str:
        try:
            rows = spark.read.text(path, wholetext=True).collect()  # one small file
        except Exception as error:
            raise ConfigError(f"{path}: cannot read config file: "
                              f"{str(error).splitlines()[0]}") from None
        if not rows:
            raise ConfigError(f"{path}: cannot read config file (no such file)")
        return rows[0][0]
    return read

