"""Typed configuration: YAML files merged key by key, `--set` overrides, validated
before Spark starts. Every error names the file (or `--set`) and the dotted key."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Optional

import yaml

from rfm_spark import rules
from rfm_spark.lakehouse import DATABASE_NAME


class ConfigError(ValueError):
    """A configuration that cannot be run; raised before any Spark work."""


GRADED_METRICS = ("recency", "frequency", "monetary")  # age is graded when configured

# Column names are validated because they end up in Spark expressions (quoted in
# backticks, which they cannot contain): letters of any script, digits, `_ . -` and spaces.
_COLUMN_NAME = re.compile(r"^[^\W\d][\w .-]*$")


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
    channel: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Csv:
    header: bool = True
    delimiter: str = ","
    encoding: str = "UTF-8"
    decimal: Literal[".", ","] = "."     # ",": 1C-style decimal commas (spaces are grouping)


@dataclasses.dataclass(frozen=True)
class Pseudonymise:
    """Replace customer ids by HMAC-SHA256 under the key held by `key_variable`."""
    enabled: bool = False
    key_variable: str = "RFM_PSEUDONYMISATION_KEY"


@dataclasses.dataclass(frozen=True)
class Input:
    format: Literal["csv", "parquet", "delta"] = "csv"
    path: Optional[str] = None
    columns: Columns = Columns()
    date_format: str = "yyyy-MM-dd"
    # Without an order id, an order is a customer's purchases with equal values of these
    # roles (H&M: [date, channel]); the default is one order per day.
    order_key: tuple[Literal["date", "store", "channel", "country"], ...] = ("date",)
    csv: Csv = Csv()
    pseudonymise: Pseudonymise = Pseudonymise()


@dataclasses.dataclass(frozen=True)
class Clean:
    lookback_days: Optional[int] = None
    drop_non_positive_amounts: bool = False
    cancellations: Literal["keep", "drop", "net"] = "keep"
    cancellation_prefix: str = "C"
    countries: Optional[list[str]] = None
    customer_id_pattern: Optional[str] = None   # ids not matching: unidentified_customer
    duplicate_key: Optional[list[str]] = None   # source columns; repeats: duplicate
    quarantine: Optional[list[str]] = None      # reasons copied to rfm_rejects; null: all


@dataclasses.dataclass(frozen=True)
class Quality:
    """Limits on shares in the data-quality report; a share above its limit warns."""
    max_rejected_share: float = 0.05        # of rows read, whatever the reason
    max_unidentified_share: float = 0.5     # of rows, overall and per store
    max_multi_store_share: float = 0.5      # of customers buying in more than one store


@dataclasses.dataclass(frozen=True)
class ChurnPercentile:
    """The churn period as the given percentile of the gaps between a customer's
    consecutive purchase days, rounded up to whole days."""
    percentile: float
    exact: bool = True
    accuracy: int = 10000


# Days after which most customers do not come back: a number of days, or computed.
ChurnPeriod = typing.Union[int, ChurnPercentile]


@dataclasses.dataclass(frozen=True)
class Metrics:
    as_of: Optional[dt.date] = None
    frequency: Literal["rows", "orders", "days", "rate"] = "orders"
    monetary: Literal["sum", "mean_order"] = "sum"
    rate_interval_days: int = 21
    churn_period: Optional[ChurnPeriod] = None  # e.g. 105, or {percentile: 95}


# A cut point: a number (side by `closed`), `churn_period`, or text "<= x" / "< x".
Cut = typing.Union[float, str]
_CUT = re.compile(r"^\s*(<=|<)?\s*(churn_period|[-+]?\d+(?:\.\d+)?)\s*$")


@dataclasses.dataclass(frozen=True)
class MetricGrading:
    method: Literal["quantile", "percentiles", "iqr", "mean", "thresholds"] = "quantile"
    grades: Optional[int] = None        # quantile: default 3; other methods imply it
    at: Optional[list[float]] = None    # percentiles: cut points at these percentiles
    of: Literal["customers", "orders"] = "customers"
    exact: bool = True                  # false: percentile_approx with `accuracy`
    accuracy: int = 10000
    cuts: Optional[list[Cut]] = None    # thresholds
    closed: Literal["right", "left"] = "right"
    within: tuple[str, ...] = ()        # nested: graded within each grade of these metrics

    @property
    def grade_count(self) -> int:
        implied = {"percentiles": len(self.at or ()) + 1, "iqr": 4, "mean": 2,
                   "thresholds": len(self.cuts or ()) + 1}
        return implied.get(self.method, self.grades or 3)

    def parsed_cuts(self) -> list[tuple[Decimal | str, bool]]:
        """(value or 'churn_period', inclusive) per cut; inclusive: a value equal to the
        cut falls in the lower-value bin."""
        parsed = []
        for cut in self.cuts or ():
            if isinstance(cut, (int, float)):  # Python API callers may pass ints
                parsed.append((Decimal(repr(float(cut))), self.closed == "right"))
                continue
            match = _CUT.match(cut)
            if not match:
                raise ValueError(f"cannot read cut {cut!r}: a number, churn_period, "
                                 "'<= x' or '< x'")
            side, value = match.groups()
            inclusive = self.closed == "right" if side is None else side == "<="
            parsed.append((value if value == "churn_period" else Decimal(value), inclusive))
        return parsed


@dataclasses.dataclass(frozen=True)
class Score:
    """Weights of the grades in the per-customer score (sum of weight x grade)."""
    recency: float = 0.0
    frequency: float = 0.0
    monetary: float = 0.0
    age: float = 0.0


@dataclasses.dataclass(frozen=True)
class Grading:
    best: Literal["lowest", "highest"] = "lowest"
    recency: MetricGrading = MetricGrading()
    frequency: MetricGrading = MetricGrading()
    monetary: MetricGrading = MetricGrading()
    age: Optional[MetricGrading] = None     # tenure; graded: 4-digit codes R F M A
    partition_by: tuple[Literal["store", "country", "channel"], ...] = ()
    score: Optional[Score] = None

    @property
    def metrics(self) -> tuple[str, ...]:
        """The graded metrics in code order."""
        return GRADED_METRICS + (("age",) if self.age is not None else ())

    def of(self, metric: str) -> MetricGrading:
        return getattr(self, metric)


@dataclasses.dataclass(frozen=True)
class SegmentRule:
    name: str
    codes: tuple[str, ...] = ()
    where: Optional[dict[str, Any]] = None
    group: Optional[str] = None
    id: Optional[str] = None
    action: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class GroupRule:
    name: str
    codes: tuple[str, ...] = ()
    where: Optional[dict[str, Any]] = None
    id: Optional[str] = None
    action: Optional[str] = None
    attributes: Optional[dict[str, typing.Union[int, str]]] = None


@dataclasses.dataclass(frozen=True)
class TagRule:
    name: str
    codes: tuple[str, ...] = ()
    where: Optional[dict[str, Any]] = None


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
    segments: Optional[tuple[SegmentRule, ...]] = None  # None: the segment is the code
    groups: tuple[GroupRule, ...] = ()
    tags: tuple[TagRule, ...] = ()
    quality: Quality = Quality()
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
        scheme = {key: plain[key] for key in ("grading", "segments", "groups", "tags")}
        scheme["metrics"] = {k: v for k, v in plain["metrics"].items() if k != "as_of"}
        return _sha256(scheme)

    def with_as_of(self, date: dt.date) -> Config:
        return dataclasses.replace(self, metrics=dataclasses.replace(self.metrics, as_of=date))


def _sha256(document: dict) -> str:
    return hashlib.sha256(yaml.safe_dump(document, sort_keys=True).encode()).hexdigest()


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
    if hint is Any:
        return value
    if shape in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            return _coerce(value, inner[0], path, origin)
        for option in inner:  # scalars only: the first type the value fits
            try:
                return _coerce(value, option, path, origin)
            except ConfigError:
                pass
        raise fail(" or ".join("a mapping" if dataclasses.is_dataclass(option) else
                               f"a {getattr(option, '__name__', option)}" for option in inner))
    if shape is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise fail("a mapping")
        return {k: _coerce(v, args[1], f"{path}.{k}", origin) for k, v in value.items()}
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
    if config.clean.cancellations != "keep" and not (columns.order_id or columns.quantity):
        raise fail("clean.cancellations", "needs input.columns.order_id or quantity mapped")
    _check_clean_rules(config, fail)
    if config.clean.lookback_days is not None and config.clean.lookback_days < 1:
        raise fail("clean.lookback_days", "must be at least 1")
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", config.input.pseudonymise.key_variable):
        raise fail("input.pseudonymise.key_variable", "must be an environment variable name")
    if len(config.input.csv.delimiter) != 1:
        raise fail("input.csv.delimiter", "must be a single character")
    _check_metrics(config, fail)
    _check_grading(config, fail)
    try:
        code_table(config)
    except rules.RuleError as error:
        level = str(error).partition(":")[0]
        place = level if level in ("segments", "groups", "tags") else "segments"
        raise ConfigError(f"{_where(place, origin)}: {error}") from None
    if config.output.database is not None and not DATABASE_NAME.fullmatch(
            config.output.database):
        raise fail("output.database", "must be `schema` or `catalog.schema` (letters, digits, _)")


def _check_clean_rules(config: Config, fail) -> None:
    from rfm_spark.clean import REJECT_REASONS  # clean imports this module

    clean, columns = config.clean, config.input.columns
    for role in config.input.order_key:
        if getattr(columns, role) is None:
            raise fail("input.order_key", f"names {role}, which input.columns does not map")
    if columns.order_id is not None and config.input.order_key != ("date",):
        raise fail("input.order_key", "is for sources without an order id (input.columns."
                                      "order_id is mapped)")
    if clean.customer_id_pattern is not None:
        try:
            re.compile(clean.customer_id_pattern)
        except re.error as error:
            raise fail("clean.customer_id_pattern", f"is not a regular expression: {error}")
    if clean.duplicate_key is not None:
        if not clean.duplicate_key:
            raise fail("clean.duplicate_key", "must list at least one source column")
        for name in clean.duplicate_key:
            if not _COLUMN_NAME.match(name):
                raise fail("clean.duplicate_key", f"is not a valid column name: {name!r}")
    unknown = sorted(set(clean.quarantine or ()) - set(REJECT_REASONS))
    if unknown:
        raise fail("clean.quarantine", f"names unknown reasons {unknown} (known: "
                                       f"{', '.join(REJECT_REASONS)})")
    for key, share in dataclasses.asdict(config.quality).items():
        if not 0 <= share <= 1:
            raise fail(f"quality.{key}", "must be a share between 0 and 1")


def _check_metrics(config: Config, fail) -> None:
    metrics = config.metrics
    if metrics.rate_interval_days < 1:
        raise fail("metrics.rate_interval_days", "must be at least 1")
    if metrics.frequency == "rate" and metrics.churn_period is None:
        raise fail("metrics.churn_period", "is needed by metrics.frequency: rate")
    churn = metrics.churn_period
    if churn is not None:
        if isinstance(churn, int) and churn < 1:
            raise fail("metrics.churn_period", "must be at least 1 day")
        if isinstance(churn, ChurnPercentile) and not 0 < churn.percentile < 100:
            raise fail("metrics.churn_period.percentile", "must be between 0 and 100")
        if isinstance(churn, ChurnPercentile) and churn.accuracy < 1:
            raise fail("metrics.churn_period.accuracy", "must be at least 1")


def _check_grading(config: Config, fail) -> None:
    grading = config.grading
    columns = config.input.columns
    for role in grading.partition_by:
        if getattr(columns, role) is None:
            raise fail("grading.partition_by", f"names {role}, which input.columns does not map")
    for metric in grading.metrics:
        _check_metric_grading(config, metric, fail)
    _check_nesting(grading, fail)
    if grading.score is not None:
        weights = dataclasses.asdict(grading.score)
        if weights["age"] and grading.age is None:
            raise fail("grading.score.age", "needs grading.age")
        if not any(weights.values()):
            raise fail("grading.score", "needs at least one non-zero weight")


def _check_metric_grading(config: Config, metric: str, fail) -> None:
    spec = config.grading.of(metric)
    path = f"grading.{metric}"
    used = {"at": spec.at is not None,
            "cuts": spec.cuts is not None, "of": spec.of != "customers",
            "exact": not spec.exact}
    allowed = {"quantile": set(), "percentiles": {"at", "of", "exact"},
               "iqr": {"of", "exact"}, "mean": {"of"}, "thresholds": {"cuts"}}[spec.method]
    for key in sorted(set(k for k, on in used.items() if on) - allowed):
        raise fail(f"{path}.{key}", f"is not used by method '{spec.method}'")
    if spec.method == "thresholds" and not spec.cuts:
        raise fail(f"{path}.cuts", "must list the cut points (one fewer than the grades)")
    if spec.method == "percentiles" and not spec.at:
        raise fail(f"{path}.at", "must list the percentiles of the cut points")
    if not 2 <= spec.grade_count <= 9:
        raise fail(f"{path}.grades", "must be between 2 and 9 (one digit per grade)")
    if spec.method != "quantile" and spec.grades not in (None, spec.grade_count):
        raise fail(f"{path}.grades", f"is {spec.grades}, but method '{spec.method}' gives "
                                     f"{spec.grade_count} grades here (set grades: null)")
    if spec.accuracy < 1:
        raise fail(f"{path}.accuracy", "must be at least 1")
    if spec.method == "percentiles":
        if list(spec.at) != sorted(set(spec.at)) or not (
                0 < spec.at[0] and spec.at[-1] < 100):
            raise fail(f"{path}.at", "must list increasing percentiles between 0 and 100")
    if spec.of == "orders" and (metric != "monetary" or spec.within):
        raise fail(f"{path}.of", "'orders' is for monetary, not nested (within)")
    if spec.method == "thresholds":
        try:
            cuts = spec.parsed_cuts()
        except ValueError as error:
            raise fail(f"{path}.cuts", str(error)) from None
        churn = config.metrics.churn_period
        if any(value == "churn_period" for value, _ in cuts):
            if metric not in ("recency", "age") or churn is None:
                raise fail(f"{path}.cuts", "can use churn_period only for recency or age, "
                                           "with metrics.churn_period set")
            if not isinstance(churn, int):  # computed: its order is checked when known
                return
        values = [Decimal(churn) if value == "churn_period" else value
                  for value, _ in cuts]
        if values != sorted(set(values)):
            raise fail(f"{path}.cuts", "must be strictly increasing")


def _check_nesting(grading: Grading, fail) -> None:
    for metric in grading.metrics:
        spec = grading.of(metric)
        for outer in spec.within:
            if outer not in grading.metrics or outer == metric:
                raise fail(f"grading.{metric}.within", f"names {outer!r}, not another "
                           f"graded metric ({', '.join(grading.metrics)})")
        if spec.within and spec.method == "thresholds":
            raise fail(f"grading.{metric}.within", "has no effect on fixed thresholds")
    try:
        grading_rounds(grading)
    except ValueError as error:
        raise fail("grading", str(error)) from None


def grading_rounds(grading: Grading) -> list[tuple[str, ...]]:
    """The graded metrics in the order nesting needs: each round only after its outer
    metrics' rounds."""
    pending = {metric: set(grading.of(metric).within) for metric in grading.metrics}
    rounds: list[tuple[str, ...]] = []
    while pending:
        ready = tuple(m for m in grading.metrics if m in pending and not pending[m])
        if not ready:
            raise ValueError(f"circular 'within' between {', '.join(sorted(pending))}")
        rounds.append(ready)
        for metric in ready:
            del pending[metric]
        for outers in pending.values():
            outers.difference_update(ready)
    return rounds


def grade_counts(config: Config) -> tuple[int, ...]:
    return tuple(config.grading.of(metric).grade_count for metric in config.grading.metrics)


def code_table(config: Config) -> dict[str, rules.CodeEntry]:
    """Every possible code with its segment, group, attributes and tags."""
    return rules.code_table(config.segments, config.groups, config.tags, grade_counts(config),
                            config.grading.metrics)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
