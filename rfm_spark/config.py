"""Typed configuration: YAML files merged key by key, `--set` overrides, validated
before Spark starts. Every error names the file (or `--set`) and the dotted key."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

from rfm_spark import rules
from rfm_spark.lakehouse import DATABASE_NAME


class ConfigError(ValueError):
    """A configuration that cannot be run; raised before any Spark work."""


# Column names are validated because they end up in Spark expressions.
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]*$")


@dataclasses.dataclass(frozen=True)
class Columns:
    customer_id: str = "customer_id"
    date: str = "t_dat"
    amount: Optional[str] = "price"
    order_id: Optional[str] = None
    quantity: Optional[str] = None
    unit_price: Optional[str] = None
    store: Optional[str] = None
    country: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Csv:
    header: bool = True
    delimiter: str = ","
    encoding: str = "UTF-8"


@dataclasses.dataclass(frozen=True)
class Input:
    format: Literal["csv", "parquet", "delta"] = "csv"
    path: Optional[str] = None
    columns: Columns = Columns()
    date_format: str = "yyyy-MM-dd"
    csv: Csv = Csv()


@dataclasses.dataclass(frozen=True)
class Clean:
    lookback_days: Optional[int] = None
    drop_non_positive_amounts: bool = False
    cancellations: Literal["keep", "drop"] = "keep"
    cancellation_prefix: str = "C"
    countries: Optional[list[str]] = None


@dataclasses.dataclass(frozen=True)
class Metrics:
    as_of: Optional[dt.date] = None
    frequency: Literal["rows", "orders", "days"] = "orders"
    monetary: Literal["sum", "mean_order"] = "sum"


@dataclasses.dataclass(frozen=True)
class MetricGrading:
    method: Literal["quantile", "thresholds"] = "quantile"
    grades: int = 3
    cuts: Optional[list[float]] = None
    closed: Literal["right", "left"] = "right"


@dataclasses.dataclass(frozen=True)
class Grading:
    best: Literal["lowest", "highest"] = "lowest"
    recency: MetricGrading = MetricGrading()
    frequency: MetricGrading = MetricGrading()
    monetary: MetricGrading = MetricGrading()


@dataclasses.dataclass(frozen=True)
class SegmentRule:
    name: str
    group: str
    codes: list[str]


@dataclasses.dataclass(frozen=True)
class Output:
    lakehouse: Optional[str] = None
    database: Optional[str] = None
    migrate_from: Literal["previous", "none"] = "previous"


@dataclasses.dataclass(frozen=True)
class Config:
    input: Input = Input()
    clean: Clean = Clean()
    metrics: Metrics = Metrics()
    grading: Grading = Grading()
    segments: tuple[SegmentRule, ...] = ()
    output: Output = Output()

    def to_yaml(self) -> str:
        return yaml.safe_dump(_plain(self), sort_keys=False, allow_unicode=True)

    @property
    def sha256(self) -> str:
        """Hash of everything that shapes the results; where they are written is left out."""
        shaping = {key: value for key, value in _plain(self).items() if key != "output"}
        return _sha256(shaping)

    @property
    def scheme_sha256(self) -> str:
        """Hash of the grading and segment rules: runs with the same scheme have
        comparable grades and segments, so migrations and drift compare them."""
        plain = _plain(self)
        return _sha256({key: plain[key] for key in ("grading", "segments")})

    def with_as_of(self, date: dt.date) -> Config:
        return dataclasses.replace(self, metrics=dataclasses.replace(self.metrics, as_of=date))


def _sha256(document: dict) -> str:
    return hashlib.sha256(yaml.safe_dump(document, sort_keys=True).encode()).hexdigest()


GRADED_METRICS = ("recency", "frequency", "monetary")


def load_config(paths: list[str | Path], overrides: list[str] = (),
                settings: dict[str, Any] | None = None) -> Config:
    """Merge YAML files key by key (later wins), then `settings` (dotted key -> value, from
    command-line flags), then `key=value` overrides (`--set`), and validate."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path in paths:
        document = _read_yaml(Path(path))
        _check_keys(document, Config, "", str(path))
        _merge(merged, document, "", str(path), origin)
    for key, value in (settings or {}).items():
        _check_keys(_nest(key, value), Config, "", "command line")
        _merge(merged, _nest(key, value), "", "command line", origin)
    for override in overrides:
        key, value = _parse_override(override)
        _check_keys(_nest(key, value), Config, "", "--set")
        _merge(merged, _nest(key, value), "", "--set", origin)
    config = _build(Config, merged, "", origin)
    _check_semantics(config, origin)
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error.strerror})") from error
    except (yaml.YAMLError, ValueError) as error:  # ValueError: e.g. a date 2020-02-30
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return document


def _parse_override(override: str) -> tuple[str, Any]:
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected key=value, e.g. metrics.frequency=days")
    try:
        return key.strip(), yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {key}: value is not valid YAML: {error}") from error
    except ValueError:  # a date-looking value that is no date, e.g. 2020-02-30
        return key.strip(), text


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    for part in reversed(dotted.split(".")):
        value = {part: value}
    return value


def _merge(target: dict, source: dict, prefix: str, source_name: str, origin: dict) -> None:
    for key, value in source.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, f"{path}.", source_name, origin)
        else:
            target[key] = value
            for known in [k for k in origin if k.startswith(f"{path}.")]:
                del origin[known]
        _record_origin(value, path, source_name, origin)


def _record_origin(value: Any, path: str, source_name: str, origin: dict) -> None:
    origin[path] = source_name
    if isinstance(value, dict):
        for key, item in value.items():
            _record_origin(item, f"{path}.{key}", source_name, origin)


def _where(path: str, origin: dict[str, str]) -> str:
    while path and path not in origin:
        path = path.rpartition(".")[0]
    return origin.get(path, "defaults")


def _dataclass_of(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in typing.get_args(hint):
        found = _dataclass_of(arg)
        if found:
            return found
    return None


def _check_keys(document: Any, cls: type, prefix: str, source_name: str) -> None:
    if not isinstance(document, dict):
        return
    hints = typing.get_type_hints(cls)
    for key, value in document.items():
        path = f"{prefix}{key}"
        if key not in hints:
            known = ", ".join(hints)
            raise ConfigError(f"{source_name}: unknown key '{path}' (known keys here: {known})")
        nested = _dataclass_of(hints[key])
        if nested is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                _check_keys(item, nested, f"{path}[{index}].", source_name)
        else:
            _check_keys(value, nested, f"{path}.", source_name)


def _build(cls: type, document: Any, prefix: str, origin: dict[str, str]) -> Any:
    name = prefix.rstrip(".") or "config"
    if not isinstance(document, dict):
        raise ConfigError(f"{_where(name, origin)}: '{name}' must be a mapping")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        path = f"{prefix}{field.name}"
        if field.name in document:
            values[field.name] = _coerce(document[field.name], hints[field.name], path, origin)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_where(name, origin)}: '{path}' is required")
    return cls(**values)


def _coerce(value: Any, hint: Any, path: str, origin: dict[str, str]) -> Any:
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{_where(path, origin)}: '{path}' must be {expected}, got {value!r}")

    shape = typing.get_origin(hint)
    args = typing.get_args(hint)
    if shape in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _coerce(value, inner, path, origin)
    if shape is Literal:
        if value not in args:
            raise fail("one of " + ", ".join(map(str, args)))
        return value
    if shape in (list, tuple):
        if not isinstance(value, list):
            raise fail("a list")
        items = [_coerce(v, args[0], f"{path}[{i}]", origin) for i, v in enumerate(value)]
        return tuple(items) if shape is tuple else items
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{path}.", origin)
    if hint is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise fail("a string")
        return str(value)
    if hint is dt.date:
        if isinstance(value, dt.datetime):
            raise fail("a date (YYYY-MM-DD)")
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise fail("a date (YYYY-MM-DD)") from None
    raise TypeError(f"unsupported config type {hint} at {path}")


def _check_semantics(config: Config, origin: dict[str, str]) -> None:
    def fail(path: str, message: str) -> ConfigError:
        return ConfigError(f"{_where(path, origin)}: '{path}' {message}")

    columns = config.input.columns
    for field in dataclasses.fields(Columns):
        name = getattr(columns, field.name)
        if name is not None and not _COLUMN_NAME.match(name):
            raise fail(f"input.columns.{field.name}", f"is not a valid column name: {name!r}")
    if columns.amount is None and not (columns.quantity and columns.unit_price):
        raise fail("input.columns.amount", "is required unless quantity and unit_price are mapped")
    if config.clean.countries is not None and columns.country is None:
        raise fail("clean.countries", "needs input.columns.country to be mapped")
    if config.clean.cancellations == "drop" and not (columns.order_id or columns.quantity):
        raise fail("clean.cancellations", "needs input.columns.order_id or quantity mapped")
    if config.clean.lookback_days is not None and config.clean.lookback_days < 1:
        raise fail("clean.lookback_days", "must be at least 1")
    if len(config.input.csv.delimiter) != 1:
        raise fail("input.csv.delimiter", "must be a single character")
    for metric in GRADED_METRICS:
        grading: MetricGrading = getattr(config.grading, metric)
        path = f"grading.{metric}"
        if not 2 <= grading.grades <= 9:
            raise fail(f"{path}.grades", "must be between 2 and 9 (one digit per grade)")
        if grading.method == "thresholds":
            cuts = grading.cuts
            if not cuts or len(cuts) != grading.grades - 1:
                raise fail(f"{path}.cuts", f"must list {grading.grades - 1} cut points "
                                           f"for {grading.grades} grades")
            if list(cuts) != sorted(set(cuts)):
                raise fail(f"{path}.cuts", "must be strictly increasing")
        elif grading.cuts is not None:
            raise fail(f"{path}.cuts", "is only used by method 'thresholds'")
    if not config.segments:
        raise fail("segments", "must define at least one segment rule")
    try:
        rules.check_coverage(config.segments, grade_counts(config))
    except rules.RuleError as error:
        raise ConfigError(f"{_where('segments', origin)}: segments: {error}") from None
    if config.output.database is not None and not DATABASE_NAME.fullmatch(
            config.output.database):
        raise fail("output.database", "must be `schema` or `catalog.schema` (letters, digits, _)")


def grade_counts(config: Config) -> tuple[int, ...]:
    return tuple(getattr(config.grading, metric).grades for metric in GRADED_METRICS)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
