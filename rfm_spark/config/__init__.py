"""Typed configuration, validated before Spark starts: the model (`model`), how YAML
layers become one (`loader`) and the checks across sections (`checks`)."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rfm_spark.config.checks import check_config, code_table
from rfm_spark.config.loader import Layers, ReadText, build, is_remote, nest, parse_override, \
    read_document
from rfm_spark.config.model import (Bands, Basket, Churn, ChurnPercentile, Clean, Columns,
                                    Config, Csv, Grading, GridCell, GroupRule, Input, Metrics,
                                    MetricGrading, Output, Pseudonymise, Quality, Scenario,
                                    Score, SecretRef, SegmentRule, Simulation, TagRule, Upgrade)
from rfm_spark.errors import ConfigError

__all__ = ["Bands", "Basket", "Churn", "ChurnPercentile", "Clean", "Columns", "Config",
           "ConfigError", "Csv", "Grading", "GridCell", "GroupRule", "Input", "Metrics",
           "MetricGrading", "Output", "Pseudonymise", "Quality", "Scenario", "Score",
           "SecretRef", "SegmentRule", "Simulation", "TagRule", "Upgrade", "code_table",
           "is_remote", "load_config"]


def load_config(paths: list[str | Path], overrides: list[str] = (),
                settings: dict[str, Any] | None = None, read_text: ReadText | None = None,
                documents: dict[str, dict] | None = None) -> Config:
    """Merge YAML files key by key (later wins), then `settings` (dotted key -> value, from
    command-line flags), then `key=value` overrides (`--set`), and validate. A path may
    name a shipped preset (`preset:sms27`, `source:hm`); one on another file system is
    read with `read_text`. `documents` (name -> mapping, e.g. a run's stored config) are
    layered first. The config records the layers' names in order (`sources`):
    documents, paths as given, `command line` and `--set KEY` per override."""
    layers = Layers()
    for name, document in (documents or {}).items():
        layers.add(document, name, Config)
    for path in paths:
        layers.add(read_document(path, read_text), str(path), Config)
    for key, value in (settings or {}).items():
        layers.add(nest(key, value), "command line", Config)
    for override in overrides:
        layers.add(nest(*parse_override(override)), "--set", Config)
    config = build(Config, layers.merged, "", layers)
    check_config(config, layers)
    sources = [*(documents or {}), *(str(path) for path in paths),
               *(["command line"] if settings else []),
               *(f"--set {parse_override(override)[0]}" for override in overrides)]
    return dataclasses.replace(config, sources=tuple(sources))
