"""Checks of a built config: every section's own `check`, then the rules that span
sections (a clean rule needs a mapped column, a cut names the churn period, the segment
rules cover every code). Each error names the layer that set the key."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

from rfm_spark import rules
from rfm_spark.config.loader import Layers
from rfm_spark.config.model import ChurnPercentile, Config
from rfm_spark.errors import ConfigError


def check_config(config: Config, layers: Layers) -> None:
    _check_sections(config, "", layers)
    _check_columns_used(config, layers)
    _check_cuts(config, layers)
    _check_rules(config, layers)
    _check_upgrade(config, layers)


def _check_sections(node, prefix: str, layers: Layers) -> None:
    """Calls `check` of every dataclass in the tree, depth first."""
    if not dataclasses.is_dataclass(node):
        return
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
        for index, item in items:
            suffix = field.name if index is None else f"{field.name}[{index}]"
            _check_sections(item, f"{prefix}{suffix}.", layers)
    if hasattr(node, "check"):
        node.check(lambda key, message: layers.error(f"{prefix}{key}".rstrip("."), message))


def _check_columns_used(config: Config, layers: Layers) -> None:
    columns = config.input.columns
    if config.clean.countries is not None and columns.country is None:
        raise layers.error("clean.countries", "needs input.columns.country to be mapped")
    if config.clean.cancellations != "keep" and not (columns.order_id or columns.quantity):
        raise layers.error("clean.cancellations",
                           "needs input.columns.order_id or quantity mapped")
    for role in config.grading.partition_by:
        if getattr(columns, role) is None:
            raise layers.error("grading.partition_by",
                               f"names {role}, which input.columns does not map")


def _check_cuts(config: Config, layers: Layers) -> None:
    """Fixed cuts are increasing; `churn_period` is only a recency or age cut."""
    churn = config.metrics.churn_period
    for metric in config.grading.metrics:
        spec, path = config.grading.of(metric), f"grading.{metric}.cuts"
        if spec.method != "thresholds":
            continue
        cuts = spec.parsed_cuts()
        if any(value == "churn_period" for value, _ in cuts):
            if metric not in ("recency", "age") or churn is None:
                raise layers.error(path, "can use churn_period only for recency or age, "
                                         "with metrics.churn_period set")
            if isinstance(churn, ChurnPercentile):  # computed: its order is checked when known
                continue
        values = [Decimal(churn) if value == "churn_period" else value for value, _ in cuts]
        if values != sorted(set(values)):
            raise layers.error(path, "must be strictly increasing")


def _check_upgrade(config: Config, layers: Layers) -> None:
    """The upgrade simulation moves customers along one ladder of monetary tiers: one
    conversion rate per step between the configured grades."""
    upgrade = config.simulation.upgrade
    if upgrade is None:
        return
    grading = config.grading
    if grading.partition_by or grading.monetary.within:
        raise layers.error("simulation.upgrade", "needs monetary grades over all customers "
                                                 "(no grading.partition_by, no monetary.within)")
    steps = grading.monetary.grade_count - 1
    for index, scenario in enumerate(upgrade.scenarios):
        if len(scenario.rates(steps)) != steps:
            raise layers.error(f"simulation.upgrade.scenarios[{index}].conversion",
                               f"gives {len(scenario.rates(steps))} rates; the "
                               f"{steps + 1} monetary grades make {steps} steps: give one "
                               "rate, or one per step from the lowest tier upward")


def _check_rules(config: Config, layers: Layers) -> None:
    try:
        code_table(config)
    except rules.RuleError as error:
        raise ConfigError(f"{layers.where(error.key)}: {error}") from None


def code_table(config: Config) -> dict[str, rules.CodeEntry]:
    """Every possible code with its segment, group, attributes and tags."""
    return rules.code_table(config.segments, config.groups, config.tags,
                            config.grading.grade_counts, config.grading.metrics)
