"""Reading a configuration: YAML files merged key by key (later files win; lists are
replaced whole), then command-line settings, then `--set key=value` overrides, coerced
into the model's dataclasses. Every value remembers where it came from (`origin`), so an
error names the file (or `--set`) and the dotted key.

A config path is a local file, a named preset shipped with the package (`preset:sms27`,
`source:hm`), or a path on another file system (`dbfs:/...`, `s3a://...`), which needs
`read_text` (the jobs pass one that reads through Spark).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Literal

import yaml

from rfm_spark.config.model import config_fields
from rfm_spark.errors import ConfigError

# `preset:NAME` -> conf/presets/NAME.yaml (`preset:default`: conf/default.yaml), and
# `source:NAME` -> conf/sources/NAME.yaml, from the package's data.
NAMED = {"preset": "presets", "source": "sources"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_PARENT = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")  # the last `.key` or `[index]` of a path
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               dt.date: "a date (YYYY-MM-DD)"}

ReadText = Callable[[str], str]


def is_remote(path: str) -> bool:
    """A path on a file system Python cannot open here (`dbfs:/`, `s3a://`, ...)."""
    scheme = _SCHEME.match(str(path))
    return bool(scheme) and scheme.group(1).lower() != "file" and scheme.group(1) not in NAMED


def named_configs(kind: str) -> list[str]:
    """The names of the presets (`kind` "preset") or source profiles ("source") shipped."""
    folder = resources.files("rfm_spark.conf").joinpath(NAMED[kind])
    names = {entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".yaml")}
    return sorted(names | ({"default"} if kind == "preset" else set()))


def read_document(path: str | Path, read_text: ReadText | None = None) -> dict[str, Any]:
    """One config file's mapping (empty for an empty file)."""
    text = _text(str(path), read_text)
    try:
        document = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as error:  # ValueError: e.g. a date 2020-02-30
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return document


def _text(path: str, read_text: ReadText | None) -> str:
    kind, _, name = path.partition(":")
    if kind in NAMED and name:
        folder = resources.files("rfm_spark.conf")
        entry = (folder.joinpath("default.yaml") if (kind, name) == ("preset", "default")
                 else folder.joinpath(NAMED[kind], f"{name}.yaml"))
        if not entry.is_file():
            raise ConfigError(f"{path}: no such {kind} (known: {', '.join(named_configs(kind))})")
        return entry.read_text(encoding="utf-8")
    local = Path(path[len("file:"):] if path.startswith("file:") else path)
    if is_remote(path) or (read_text is not None and not local.exists()):
        if read_text is None:
            raise ConfigError(f"{path}: a config on another file system is read through "
                              "Spark, which this caller did not give")
        return read_text(path)
    try:
        return local.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error})") from error


class Layers:
    """The merged document of all layers, with the origin of every dotted key."""

    def __init__(self):
        self.merged: dict[str, Any] = {}
        self.origin: dict[str, str] = {}

    def add(self, document: dict, source_name: str, model: type) -> None:
        check_keys(document, model, "", source_name)
        self._merge(self.merged, document, "", source_name)

    def _merge(self, target: dict, source: dict, prefix: str, source_name: str) -> None:
        for key, value in source.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                self._merge(target[key], value, f"{path}.", source_name)
            else:
                target[key] = value
                for known in [k for k in self.origin if k.startswith((f"{path}.", f"{path}["))]:
                    del self.origin[known]
            self._record(value, path, source_name)

    def _record(self, value: Any, path: str, source_name: str) -> None:
        self.origin[path] = source_name
        if isinstance(value, dict):
            for key, item in value.items():
                self._record(item, f"{path}.{key}", source_name)

    def where(self, path: str) -> str:
        """The layer that set `path` or the nearest key above it."""
        while path:
            if path in self.origin:
                return self.origin[path]
            parent = _PARENT.sub("", path)
            path = "" if parent == path else parent
        return "defaults"

    def error(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(path)}: '{path}' {message}")


def parse_override(override: str) -> tuple[str, Any]:
    """`key=value` of `--set`; a value that is not valid YAML is taken as plain text
    (delimiters such as `,`, regular expressions)."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected key=value, e.g. metrics.frequency=days")
    try:
        return key.strip(), yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # ValueError: a date-looking 2020-02-30
        return key.strip(), text


def nest(dotted: str, value: Any) -> dict[str, Any]:
    for part in reversed(dotted.split(".")):
        value = {part: value}
    return value


def _dataclass_of(hint: Any) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in typing.get_args(hint):
        found = _dataclass_of(arg)
        if found:
            return found
    return None


def check_keys(document: Any, cls: type, prefix: str, source_name: str) -> None:
    """Unknown keys fail, naming the layer, the key and the keys known there."""
    if not isinstance(document, dict):
        return
    hints = {f.name: typing.get_type_hints(cls)[f.name] for f in config_fields(cls)}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if key not in hints:
            raise ConfigError(f"{source_name}: unknown key '{path}' (known keys here: "
                              f"{', '.join(hints)})")
        nested = _dataclass_of(hints[key])
        if nested is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                check_keys(item, nested, f"{path}[{index}].", source_name)
        else:
            check_keys(value, nested, f"{path}.", source_name)


def build(cls: type, document: Any, prefix: str, layers: Layers) -> Any:
    """The dataclass `cls` from a merged document, every value coerced to its type."""
    name = prefix.rstrip(".") or "config"
    if not isinstance(document, dict):
        raise ConfigError(f"{layers.where(name)}: '{name}' must be a mapping")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in config_fields(cls):
        path = f"{prefix}{field.name}"
        if field.name in document:
            values[field.name] = _coerce(document[field.name], hints[field.name], path, layers)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{layers.where(name)}: '{path}' is required")
    return cls(**values)


def _describe(hint: Any) -> str:
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return _TYPE_NAMES.get(hint, f"a {getattr(hint, '__name__', hint)}")


def _coerce(value: Any, hint: Any, path: str, layers: Layers) -> Any:
    def fail(expected: str) -> ConfigError:
        return layers.error(path, f"must be {expected}, got {value!r}")

    shape = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if shape in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            return _coerce(value, inner[0], path, layers)
        for option in inner:  # scalars only: the first type the value fits
            try:
                return _coerce(value, option, path, layers)
            except ConfigError:
                pass
        raise fail(" or ".join(_describe(option) for option in inner))
    if shape is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise fail("a mapping")
        return {k: _coerce(v, args[1], f"{path}.{k}", layers) for k, v in value.items()}
    if shape is Literal:
        if value not in args:
            raise fail("one of " + ", ".join(map(str, args)))
        return value
    if shape in (list, tuple):
        if not isinstance(value, list):
            raise fail("a list")
        items = [_coerce(v, args[0], f"{path}[{i}]", layers) for i, v in enumerate(value)]
        return tuple(items) if shape is tuple else items
    if dataclasses.is_dataclass(hint):
        return build(hint, value, f"{path}.", layers)
    return _scalar(value, hint, fail)


def _scalar(value: Any, hint: Any, fail: Callable[[str], ConfigError]) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise fail(_describe(bool))
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(_describe(int))
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(_describe(float))
        return float(value)
    if hint is str:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise fail(_describe(str))
        return str(value)
    if hint is dt.date:
        if isinstance(value, dt.datetime):
            raise fail(_describe(dt.date))
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise fail(_describe(dt.date)) from None
    raise TypeError(f"unsupported config type {hint}")
