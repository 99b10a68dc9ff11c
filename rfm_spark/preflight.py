"""Checks of the input and output paths that need no Spark, run before it starts: every
CSV file's header against the first's and against the columns the config names, a Delta
path that is no Delta table, an empty input. Only local paths are checked here; others
(s3://, abfss://, dbfs:/) get the same checks from Spark when it reads them.
"""
from __future__ import annotations

import csv
import glob
import os
from urllib.parse import urlparse

from rfm_spark.config import Config
from rfm_spark.lakehouse import MIGRATIONS_TABLE, RUN_TABLES, RUNS_TABLE
from rfm_spark.read import InputError


def check_paths(config: Config) -> None:
    """Checks `input.path` and the output lakehouse; raises InputError naming the file
    and the columns or table at fault."""
    if config.input.path is not None:
        check_input(config, config.input.path)
    if config.output.lakehouse is not None:
        check_lakehouse(config.output.lakehouse)


def check_lakehouse(root: str, runs_needed: bool = False) -> None:
    """Every table folder of a local lakehouse that exists is a Delta table; with
    `runs_needed`, rfm_runs must exist (a job that reads runs)."""
    root = _local(root)
    if root is None:
        return
    for table in (*RUN_TABLES, RUNS_TABLE, MIGRATIONS_TABLE):
        _check_delta(os.path.join(root, table), must_exist=runs_needed and table == RUNS_TABLE)


def _local(path: str) -> str | None:
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return parsed.path if parsed.scheme else path
    return None


def check_input(config: Config, path: str) -> None:
    """Checks a local input path as `config` reads it; other paths are left to Spark."""
    path = _local(path)
    if path is None:
        return
    fmt = config.input.format
    if fmt == "delta":
        _check_delta(path, must_exist=True)
    elif fmt == "csv":
        _check_csv(config, _files(path))
    elif not _files(path):
        raise InputError(f"{path}: no input files")


def _check_delta(path: str, must_exist: bool) -> None:
    if not os.path.exists(path):
        if must_exist:
            raise InputError(f"{path}: no such Delta table (no run was written here)"
                             if path.endswith(RUNS_TABLE) else f"{path}: no such Delta table")
        return
    if not os.path.isdir(os.path.join(path, "_delta_log")):
        raise InputError(f"{path}: exists but is not a Delta table (no _delta_log)")


def _files(path: str) -> list[str]:
    """The data files Spark reads for `path`: a file, a folder's visible files, or a glob."""
    matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
    files = []
    for match in matches:
        if os.path.isdir(match):
            files += sorted(os.path.join(match, name) for name in os.listdir(match)
                            if not name.startswith(("_", ".")) and
                            os.path.isfile(os.path.join(match, name)))
        elif os.path.isfile(match):
            files.append(match)
    if not files:
        raise InputError(f"{path}: no input files")
    return files


def _check_csv(config: Config, files: list[str]) -> None:
    options = config.input.csv
    headers = {file: _header(file, options.encoding, options.delimiter) for file in files}
    present = {file: header for file, header in headers.items() if header is not None}
    if not present:
        raise InputError(f"{config.input.path}: the CSV input is empty")
    if not options.header:
        return
    first, expected = next(iter(present.items()))
    for file, header in present.items():
        if header != expected:
            raise InputError(f"{file}: header {header} does not match {first}'s {expected}"
                             f"{_difference(expected, header)}; every file must have the "
                             "same columns in the same order")
    named = _named_columns(config)
    missing = {key: column for key, column in named.items() if column not in expected}
    if missing:
        listed = ", ".join(f"{key}: {column!r}" for key, column in sorted(missing.items()))
        raise InputError(f"{first}: the config names columns the input does not have "
                         f"({listed}); its header is {expected}")


def _header(file: str, encoding: str, delimiter: str) -> list[str] | None:
    try:
        with open(file, encoding=encoding, newline="") as handle:
            row = next(csv.reader(handle, delimiter=delimiter), None)
    except (UnicodeDecodeError, LookupError) as error:
        raise InputError(f"{file}: cannot read the header as {encoding}: {error}") from None
    return [name.lstrip("\ufeff") if i == 0 else name for i, name in enumerate(row)] if row \
        else None


def _difference(expected: list[str], header: list[str]) -> str:
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    if not missing and not extra:
        return " (the same columns in another order)"
    return f" (missing {missing}, unexpected {extra})"


def _named_columns(config: Config) -> dict[str, str]:
    """Config key -> source column, for every column a rule or mapping names."""
    columns = config.input.columns
    named = {f"input.columns.{role}": getattr(columns, role)
             for role in columns.__dataclass_fields__ if getattr(columns, role)}
    for index, name in enumerate(config.clean.duplicate_key or ()):
        named[f"clean.duplicate_key[{index}]"] = name
    return named
