"""The configuration model: one frozen dataclass per section, defaults as documented in
the README, and each section's own checks beside it (`check`, given a `fail(key,
message)` that names the file and the dotted key). Checks that span sections are in
`checks.py`; reading and merging YAML is `loader.py`'s."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import typing
from decimal import Decimal
from typing import Any, Callable, Literal, Optional, Union

import yaml

from rfm_spark import names
from rfm_spark.errors import ConfigError
from rfm_spark.reasons import REJECT_REASONS
from rfm_spark.registry import ALWAYS_GRADED

Fail = Callable[[str, str], ConfigError]  # (key relative to the section, message)
RECORDED = "recorded"  # field metadata: set by load_config, never by a document


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
    item: Optional[str] = None     # product id: read only by jobs/basket.py

    def mapped(self) -> dict[str, str]:
        """Role -> source column, for every role that is mapped."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if getattr(self, field.name)}

    def check(self, fail: Fail) -> None:
        for role, name in self.mapped().items():
            if not names.COLUMN.fullmatch(name):
                raise fail(role, f"is not a valid column name: {name!r}")
        if self.amount is None and not (self.quantity and self.unit_price):
            raise fail("amount", "is required unless quantity and unit_price are mapped")


@dataclasses.dataclass(frozen=True)
class Csv:
    header: bool = True
    delimiter: str = ","
    encoding: str = "UTF-8"
    decimal: Literal[".", ","] = "."     # ",": 1C-style decimal commas (spaces are grouping)
    # A quoted field may hold line breaks (Python's csv and Excel write them): records,
    # not lines, are rows. False reads line by line, splittable but wrong for such files.
    multiline: bool = True

    def check(self, fail: Fail) -> None:
        if len(self.delimiter) != 1:
            raise fail("delimiter", "must be a single character")


@dataclasses.dataclass(frozen=True)
class SecretRef:
    """A Databricks secret: where serverless jobs keep what others put in variables."""
    scope: str
    key: str


@dataclasses.dataclass(frozen=True)
class Pseudonymise:
    """Replace customer ids by HMAC-SHA256 under a key held outside the config: the
    environment variable `key_variable`, or the Databricks secret `key_secret`."""
    enabled: bool = False
    key_variable: str = "RFM_PSEUDONYMISATION_KEY"
    key_secret: Optional[SecretRef] = None

    def check(self, fail: Fail) -> None:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", self.key_variable):
            raise fail("key_variable", "must be an environment variable name")


@dataclasses.dataclass(frozen=True)
class Input:
    format: Literal["csv", "parquet", "delta"] = "csv"
    path: Optional[str] = None
    columns: Columns = Columns()
    date_format: str = "yyyy-MM-dd"
    # The zone whose calendar date a timestamp with a zone (or a timestamp column) is
    # taken in; None: the session time zone (UTC in the sessions rfm_spark builds).
    timezone: Optional[str] = None
    # Without an order id, an order is a customer's purchases with equal values of these
    # roles (H&M: [date, channel]); the default is one order per day.
    order_key: tuple[Literal["date", "store", "channel", "country"], ...] = ("date",)
    csv: Csv = Csv()
    pseudonymise: Pseudonymise = Pseudonymise()

    def check(self, fail: Fail) -> None:
        for role in self.order_key:
            if getattr(self.columns, role) is None:
                raise fail("order_key", f"names {role}, which input.columns does not map")
        if self.columns.order_id is not None and self.order_key != ("date",):
            raise fail("order_key", "is for sources without an order id (input.columns."
                                    "order_id is mapped)")


@dataclasses.dataclass(frozen=True)
class Clean:
    lookback_days: Optional[int] = None
    drop_non_positive_amounts: bool = False
    cancellations: Literal["keep", "drop", "net"] = "keep"
    cancellation_prefix: str = "C"
    countries: Optional[list[str]] = None
    customer_id_pattern: Optional[str] = None   # ids not matching: unidentified_customer
    # Surrounding spaces (no-break ones too) are no part of an id: "42 " is customer "42".
    trim_customer_id: bool = True
    duplicate_key: Optional[list[str]] = None   # source columns; repeats: duplicate
    quarantine: Optional[list[str]] = None      # reasons copied to rfm_rejects; null: all
    earliest_date: dt.date = dt.date(1900, 1, 1)  # dates outside: implausible_date
    latest_date: dt.date = dt.date(2100, 12, 31)

    def check(self, fail: Fail) -> None:
        if self.lookback_days is not None and self.lookback_days < 1:
            raise fail("lookback_days", "must be at least 1")
        if self.duplicate_key is not None:
            if not self.duplicate_key:
                raise fail("duplicate_key", "must list at least one source column")
            for name in self.duplicate_key:
                if not names.COLUMN.fullmatch(name):
                    raise fail("duplicate_key", f"is not a valid column name: {name!r}")
        unknown = sorted(set(self.quarantine or ()) - set(REJECT_REASONS))
        if unknown:
            raise fail("quarantine", f"names unknown reasons {unknown} (known: "
                                     f"{', '.join(REJECT_REASONS)})")
        if self.latest_date < self.earliest_date:
            raise fail("latest_date", f"is before clean.earliest_date ({self.earliest_date})")


@dataclasses.dataclass(frozen=True)
class Quality:
    """Limits on shares in the data-quality report; a share above its limit warns."""
    max_rejected_share: float = 0.05        # of rows read, whatever the reason
    max_unidentified_share: float = 0.5     # of rows, overall and per store
    max_multi_store_share: float = 0.5      # of customers buying in more than one store

    def check(self, fail: Fail) -> None:
        for key, share in dataclasses.asdict(self).items():
            if not 0 <= share <= 1:
                raise fail(key, "must be a share between 0 and 1")


@dataclasses.dataclass(frozen=True)
class ChurnPercentile:
    """The churn period as the given percentile of the gaps between a customer's
    consecutive purchase days, rounded up to whole days."""
    percentile: float
    exact: bool = True
    accuracy: int = 10000

    def check(self, fail: Fail) -> None:
        if not 0 < self.percentile < 100:
            raise fail("percentile", "must be between 0 and 100")
        if self.accuracy < 1:
            raise fail("accuracy", "must be at least 1")


# Days after which most customers do not come back: a number of days, or computed.
ChurnPeriod = typing.Union[int, ChurnPercentile]


@dataclasses.dataclass(frozen=True)
class Metrics:
    as_of: Optional[dt.date] = None
    frequency: Literal["rows", "orders", "days", "rate"] = "orders"
    monetary: Literal["sum", "mean_order"] = "sum"
    rate_interval_days: int = 21
    churn_period: Optional[ChurnPeriod] = None  # e.g. 105, or {percentile: 95}

    def check(self, fail: Fail) -> None:
        if self.rate_interval_days < 1:
            raise fail("rate_interval_days", "must be at least 1")
        if self.frequency == "rate" and self.churn_period is None:
            raise fail("churn_period", "is needed by metrics.frequency: rate")
        if isinstance(self.churn_period, int) and self.churn_period < 1:
            raise fail("churn_period", "must be at least 1 day")


# A cut point: a number (side by `closed`), `churn_period`, or text "<= x" / "< x".
Cut = typing.Union[float, str]
_CUT = re.compile(r"^\s*(<=|<)?\s*(churn_period|[-+]?\d+(?:\.\d+)?)\s*$")
_OPTIONS_OF_METHOD = {"quantile": set(), "percentiles": {"at", "of", "exact"},
                      "iqr": {"of", "exact"}, "mean": {"of"}, "thresholds": {"cuts"}}


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

    def check(self, fail: Fail) -> None:
        used = {"at": self.at is not None, "cuts": self.cuts is not None,
                "of": self.of != "customers", "exact": not self.exact}
        for key in sorted({k for k, on in used.items() if on} - _OPTIONS_OF_METHOD[self.method]):
            raise fail(key, f"is not used by method '{self.method}'")
        if self.method == "thresholds" and not self.cuts:
            raise fail("cuts", "must list the cut points (one fewer than the grades)")
        if self.method == "percentiles" and not self.at:
            raise fail("at", "must list the percentiles of the cut points")
        if not 2 <= self.grade_count <= 9:
            raise fail("grades", "must be between 2 and 9 (one digit per grade)")
        if self.method != "quantile" and self.grades not in (None, self.grade_count):
            raise fail("grades", f"is {self.grades}, but method '{self.method}' gives "
                                 f"{self.grade_count} grades here (set grades: null)")
        if self.accuracy < 1:
            raise fail("accuracy", "must be at least 1")
        if self.method == "percentiles" and (list(self.at) != sorted(set(self.at))
                                             or not 0 < self.at[0] <= self.at[-1] < 100):
            raise fail("at", "must list increasing percentiles between 0 and 100")
        if self.method == "thresholds":
            try:
                self.parsed_cuts()
            except ValueError as error:
                raise fail("cuts", str(error)) from None


@dataclasses.dataclass(frozen=True)
class Score:
    """Weights of the grades in the per-customer score (sum of weight x grade)."""
    recency: float = 0.0
    frequency: float = 0.0
    monetary: float = 0.0
    age: float = 0.0

    def check(self, fail: Fail) -> None:
        if not any(dataclasses.asdict(self).values()):
            raise fail("", "needs at least one non-zero weight")


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
        return ALWAYS_GRADED + (("age",) if self.age is not None else ())

    def of(self, metric: str) -> MetricGrading:
        return getattr(self, metric)

    @property
    def grade_counts(self) -> tuple[int, ...]:
        return tuple(self.of(metric).grade_count for metric in self.metrics)

    def rounds(self) -> list[tuple[str, ...]]:
        """The graded metrics in the order nesting needs: each round only after its outer
        metrics' rounds; ValueError on a circle."""
        pending = {metric: set(self.of(metric).within) for metric in self.metrics}
        rounds: list[tuple[str, ...]] = []
        while pending:
            ready = tuple(m for m in self.metrics if m in pending and not pending[m])
            if not ready:
                raise ValueError(f"circular 'within' between {', '.join(sorted(pending))}")
            rounds.append(ready)
            for metric in ready:
                del pending[metric]
            for outers in pending.values():
                outers.difference_update(ready)
        return rounds

    def check(self, fail: Fail) -> None:
        for metric in self.metrics:
            spec = self.of(metric)
            if spec.of == "orders" and (metric != "monetary" or spec.within):
                raise fail(f"{metric}.of", "'orders' is for monetary, not nested (within)")
            for outer in spec.within:
                if outer not in self.metrics or outer == metric:
                    raise fail(f"{metric}.within", f"names {outer!r}, not another graded "
                                                   f"metric ({', '.join(self.metrics)})")
            if spec.within and spec.method == "thresholds":
                raise fail(f"{metric}.within", "has no effect on fixed thresholds")
        try:
            self.rounds()
        except ValueError as error:
            raise fail("", str(error)) from None
        if self.score is not None and self.score.age and self.age is None:
            raise fail("score.age", "needs grading.age")


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
    report: bool = False   # write the run's HTML report after its tables

    def check(self, fail: Fail) -> None:
        if self.database is not None and not names.DATABASE.fullmatch(self.database):
            raise fail("database", "must be `schema` or `catalog.schema` (letters, digits, _)")


@dataclasses.dataclass(frozen=True)
class Bands:
    """Bands of a score: `thresholds` are values, `quantiles` shares of the scored
    customers (exact); a value equal to a cut falls in the lower band."""
    method: Literal["thresholds", "quantiles"] = "thresholds"
    cuts: tuple[float, ...] = (0.3, 0.6)
    names: tuple[str, ...] = ("low", "medium", "high")

    def check(self, fail: Fail) -> None:
        if list(self.cuts) != sorted(set(self.cuts)):
            raise fail("cuts", "must be strictly increasing")
        if self.method == "quantiles" and self.cuts and not 0 < self.cuts[0] <= self.cuts[-1] < 1:
            raise fail("cuts", "must be shares strictly between 0 and 1 (method: quantiles)")
        if len(self.names) != len(self.cuts) + 1:
            raise fail("names", f"must name {len(self.cuts) + 1} bands (one more than the cuts)")
        if len(set(self.names)) != len(self.names):
            raise fail("names", "must be distinct")


@dataclasses.dataclass(frozen=True)
class GridCell:
    """A cell of the churn x value grid: its bands, the name customers get, the action."""
    churn: str
    value: str
    segment: str
    action: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Churn:
    """The churn model and the churn x value grid (`jobs/churn.py`); not part of a run's
    hash: a segmentation run is the same whatever its churn settings."""
    horizon_days: int = 90
    observations: int = 6                  # month-spaced dates, the latest as-of - horizon
    label: Literal["drop", "inactive"] = "drop"
    drop_ratio: float = 1.0
    min_orders: int = 1
    model: Literal["gbt", "logistic"] = "gbt"
    max_training_rows: int = 2_000_000
    min_class_rows: int = 20               # fewer positives or negatives: nothing to learn
    calibration: Literal["platt", "isotonic", "none"] = "platt"
    clv_months: int = 12
    monthly_discount: float = 0.01
    value: Literal["money", "clv"] = "money"
    churn_bands: Bands = Bands()
    value_bands: Bands = Bands("quantiles", (0.5, 0.8), ("low", "medium", "high"))
    grid: tuple[GridCell, ...] = ()        # empty: "<value> value, <churn> risk", no action
    model_dir: Optional[str] = None        # default: <output.lakehouse>/models
    mlflow: bool = False
    seed: int = 42

    def check(self, fail: Fail) -> None:
        for key in ("horizon_days", "clv_months", "min_orders", "min_class_rows"):
            if getattr(self, key) < 1:
                raise fail(key, "must be at least 1")
        if self.observations < 2:
            raise fail("observations", "must be at least 2 (training dates and a validation date)")
        if self.max_training_rows < 100:
            raise fail("max_training_rows", "must be at least 100")
        if not self.drop_ratio > 0:
            raise fail("drop_ratio", "must be above 0")
        if not 0 <= self.monthly_discount < 1:
            raise fail("monthly_discount", "must be a rate between 0 and 1")
        if self.churn_bands.method == "thresholds" and self.churn_bands.cuts and not (
                0 < self.churn_bands.cuts[0] and self.churn_bands.cuts[-1] < 1):
            raise fail("churn_bands.cuts", "must be probabilities strictly between 0 and 1")
        if self.grid:
            wanted = {(c, v) for c in self.churn_bands.names for v in self.value_bands.names}
            for index, cell in enumerate(self.grid):
                if (cell.churn, cell.value) not in wanted:
                    raise fail(f"grid[{index}]", f"names bands ({cell.churn!r}, {cell.value!r})"
                                                 " that churn_bands and value_bands do not have")
            given = [(cell.churn, cell.value) for cell in self.grid]
            doubled = sorted({pair for pair in given if given.count(pair) > 1})
            missing = sorted(wanted - set(given))
            if doubled or missing:
                raise fail("grid", f"must name every (churn, value) band pair once: "
                                   f"missing {missing}, doubled {doubled}")

    def cell(self, churn_band: str, value_band: str) -> GridCell:
        for cell in self.grid:
            if (cell.churn, cell.value) == (churn_band, value_band):
                return cell
        return GridCell(churn_band, value_band, f"{value_band} value, {churn_band} risk")


@dataclasses.dataclass(frozen=True)
class Basket:
    """Cross-sell rules per segment (`jobs/basket.py`, source 000): FP-Growth on each
    level value's baskets, and the recommendations drawn from them; not part of a
    run's hash."""
    level: Literal["segment", "group", "all"] = "segment"
    max_items: int = 50                    # baskets with more distinct items: left out
    min_baskets: int = 50                  # an itemset's baskets, in each level value
    min_support: Optional[float] = None    # a share of the value's baskets; replaces min_baskets
    min_confidence: float = 0.05
    max_rules: int = 100                   # per level value, the strongest by lift
    recommend: int = 5                     # items per customer
    recent_days: int = 90                  # purchases the rules' antecedents are matched on
    max_combinations: int = 1_000_000      # distinct rule counts the driver tests (Fisher)

    def check(self, fail: Fail) -> None:
        for key in ("min_baskets", "max_rules", "recommend", "recent_days", "max_combinations"):
            if getattr(self, key) < 1:
                raise fail(key, "must be at least 1")
        if self.max_items < 2:
            raise fail("max_items", "must be at least 2 (a rule needs two items)")
        if self.min_support is not None and not 0 < self.min_support <= 1:
            raise fail("min_support", "must be a share in (0, 1]")
        if not 0 <= self.min_confidence <= 1:
            raise fail("min_confidence", "must be a share in [0, 1]")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A conversion assumption: one rate for every step, or one per step from the lowest
    monetary tier upward."""
    name: str
    conversion: Union[float, tuple[float, ...]]

    def rates(self, steps: int) -> tuple[float, ...]:
        return (self.conversion,) * steps if isinstance(self.conversion, float) \
            else self.conversion

    def check(self, fail: Fail) -> None:
        rates = (self.conversion,) if isinstance(self.conversion, float) else self.conversion
        if not rates or not all(0 <= rate <= 1 for rate in rates):
            raise fail("conversion", "must be rates in [0, 1]")


@dataclasses.dataclass(frozen=True)
class Upgrade:
    """Source 003's membership upgrade: the top `top_share` spenders of each monetary
    tier moved to the next tier's floor (or median), times an assumed conversion."""
    top_share: float = 0.25
    target: Literal["next_floor", "next_median"] = "next_floor"
    scenarios: tuple[Scenario, ...] = (Scenario("half convert", 0.5),)

    def check(self, fail: Fail) -> None:
        if not 0 < self.top_share <= 1:
            raise fail("top_share", "must be a share in (0, 1]")
        if not self.scenarios:
            raise fail("scenarios", "must name at least one scenario")
        named = [scenario.name for scenario in self.scenarios]
        if len(set(named)) != len(named):
            raise fail("scenarios", "must have distinct names")


@dataclasses.dataclass(frozen=True)
class Simulation:
    """What-if arithmetic on a run (`jobs/simulate.py`, or each run when configured);
    not part of a run's hash."""
    upgrade: Optional[Upgrade] = None      # None: no upgrade simulation


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
    churn: Churn = Churn()
    basket: Basket = Basket()
    simulation: Simulation = Simulation()
    # What `load_config` built it from (rfm_runs.config_sources): not a config key, not in
    # the YAML or the hashes, so the same config from other files is the same run.
    sources: tuple[str, ...] = dataclasses.field(default=(), compare=False,
                                                 metadata={RECORDED: True})

    def to_yaml(self) -> str:
        return yaml.safe_dump(plain(self), sort_keys=False, allow_unicode=True)

    @property
    def sha256(self) -> str:
        """Hash of everything that shapes a run's results; where they are written, and the
        sections of the jobs that read runs (churn, basket, simulation) and the item
        column only they read, are left out."""
        shaping = {key: value for key, value in plain(self).items()
                   if key not in _NOT_SHAPING_RUNS}
        shaping["input"]["columns"].pop("item")
        return _sha256(shaping)

    def reading(self) -> dict[str, Any]:
        """What decides which rows a run uses, by dotted key: how the input is read
        (not its path, nor the item column only the basket job reads) and cleaned."""
        document = plain(self)
        document["input"].pop("path")
        document["input"]["columns"].pop("item")
        return _dotted({"input": document["input"], "clean": document["clean"]})

    @property
    def scheme_sha256(self) -> str:
        """Hash of the grading and segment rules: runs with the same scheme have
        comparable grades and segments, so migrations and drift compare them."""
        document = plain(self)
        scheme = {key: document[key] for key in ("grading", "segments", "groups", "tags")}
        scheme["metrics"] = {k: v for k, v in document["metrics"].items() if k != "as_of"}
        return _sha256(scheme)

    def with_as_of(self, date: dt.date) -> Config:
        return dataclasses.replace(self, metrics=dataclasses.replace(self.metrics, as_of=date))

    def with_input_path(self, path: str | None) -> Config:
        return dataclasses.replace(self, input=dataclasses.replace(self.input, path=path))

    def with_output(self, lakehouse: str | None = None, database: str | None = None) -> Config:
        return dataclasses.replace(self, output=dataclasses.replace(
            self.output, lakehouse=lakehouse, database=database))


# Sections of the jobs that read runs; the item column is read by the basket job only.
_NOT_SHAPING_RUNS = ("output", "churn", "basket", "simulation")


def _dotted(document: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _sha256(document: dict) -> str:
    return hashlib.sha256(yaml.safe_dump(document, sort_keys=True).encode()).hexdigest()


def config_fields(cls: type) -> list[dataclasses.Field]:
    """The fields a config document sets (not those `load_config` records)."""
    return [f for f in dataclasses.fields(cls) if not f.metadata.get(RECORDED)]


def plain(value: Any) -> Any:
    """A dataclass tree as plain YAML-able values."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in config_fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
