"""Segment rules: code patterns, the levels they define and their coverage check.

A code is one grade digit per graded metric, R first (R F M, or R F M A with age).
A pattern has one token per graded metric:
  `3`      that grade;
  `(1,2)`  any of the listed grades;
  `(1-3)`  any grade in the range;
  `*`      any grade.
So with four metrics (R F M A) `41(1,2)(1-3)` covers 4111, 4112, 4113, 4121, 4122, 4123.
A rule may instead give per-metric ranges (`where: {recency: 1, frequency: "1-2"}`).

Levels: code -> segment -> group. Segments cover codes; groups cover segments (named by
each segment's `group`) or, when there are no segments, codes. Every level must cover
every possible code exactly once. Tags are the exception: they may overlap. Pure Python,
checked before Spark starts.
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any, Iterable, Optional, Protocol

from rfm_spark.tables import RESERVED_COLUMNS

_TOKEN = re.compile(r"\d|\*|\([^()]*\)")


class RuleError(ValueError):
    """A rule that cannot work; `key` is the config key it is under (`tags[2]`)."""

    def __init__(self, message: str, key: str = "segments"):
        super().__init__(message)
        self.key = key


class CodeRule(Protocol):
    name: str
    codes: tuple[str, ...]
    where: Optional[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class CodeEntry:
    """Everything one code maps to, at every level."""
    code: str
    segment: str
    segment_id: Optional[str]
    segment_action: Optional[str]
    group: str
    group_id: Optional[str]
    group_action: Optional[str]
    attributes: dict[str, Any]
    tags: tuple[str, ...]


def expand(pattern: str, grade_counts: tuple[int, ...]) -> list[str]:
    """All codes a pattern covers, e.g. `1(2,3)*` -> ['121', '122', ...]."""
    tokens = _TOKEN.findall(pattern)
    if "".join(tokens) != pattern or len(tokens) != len(grade_counts):
        raise RuleError(f"pattern {pattern!r} must have {len(grade_counts)} tokens "
                        f"(a digit, *, (a,b,...) or (a-b)), one per metric")
    choices = [_grades(token, count, pattern) for token, count in zip(tokens, grade_counts)]
    return ["".join(map(str, combo)) for combo in itertools.product(*choices)]


def _grades(token: str, count: int, pattern: str) -> list[int]:
    if token == "*":
        return list(range(1, count + 1))
    body = token.strip("()")
    try:
        if re.fullmatch(r"\d-\d", body):
            low, high = map(int, body.split("-"))
            grades = list(range(low, high + 1))
        else:
            grades = sorted({int(part) for part in body.split(",")})
    except ValueError:
        raise RuleError(f"pattern {pattern!r}: cannot read {token!r}") from None
    if not grades or grades[0] < 1 or grades[-1] > count:
        raise RuleError(f"pattern {pattern!r}: {token!r} is outside grades 1..{count}")
    return grades


def where_pattern(where: dict[str, Any], metrics: tuple[str, ...]) -> str:
    """`{recency: 1, frequency: "1-2", monetary: [1, 3]}` as the pattern `1(1-2)(1,3)`."""
    unknown = sorted(set(where) - set(metrics))
    if unknown:
        raise RuleError(f"where: {', '.join(unknown)} is not a graded metric "
                        f"({', '.join(metrics)})")
    tokens = []
    for metric in metrics:
        grades = where.get(metric, "*")
        if isinstance(grades, list):
            grades = f"({','.join(map(str, grades))})"
        grades = str(grades)
        tokens.append(grades if len(grades) == 1 else f"({grades.strip('()')})")
    return "".join(tokens)


def rule_codes(rule: CodeRule, grade_counts: tuple[int, ...], metrics: tuple[str, ...]
               ) -> set[str]:
    patterns = list(rule.codes) + ([where_pattern(rule.where, metrics)] if rule.where else [])
    if not patterns:
        raise RuleError(f"{rule.name!r} lists no codes (give `codes` or `where`)")
    return {code for pattern in patterns for code in expand(pattern, grade_counts)}


def all_codes(grade_counts: tuple[int, ...]) -> list[str]:
    return expand("*" * len(grade_counts), grade_counts)


def owners(members: dict[str, set[str]], universe: Iterable[str]) -> dict[str, list[str]]:
    """Which rules (by name) cover each item of the universe."""
    covered: dict[str, list[str]] = {item: [] for item in universe}
    for name, items in members.items():
        for item in sorted(items):
            covered.setdefault(item, []).append(name)
    return covered


def check_partition(covered: dict[str, list[str]], items: str, rule: str) -> None:
    """Each item covered exactly once, or an error listing the uncovered and doubled."""
    uncovered = [item for item, names in covered.items() if not names]
    doubled = {item: names for item, names in covered.items() if len(names) > 1}
    problems = []
    if uncovered:
        problems.append(f"{items} covered by no {rule}: {', '.join(sorted(uncovered))}")
    if doubled:
        listed = "; ".join(f"{item} ({' / '.join(names)})"
                           for item, names in sorted(doubled.items()))
        problems.append(f"{items} covered by more than one {rule}: {listed}")
    if problems:
        raise RuleError(". ".join(problems))


def code_table(segments: Optional[Iterable], groups: Iterable, tags: Iterable,
               grade_counts: tuple[int, ...], metrics: tuple[str, ...]) -> dict[str, CodeEntry]:
    """Every possible code with its segment, group, attributes and tags; raises RuleError
    naming the level and listing every uncovered or doubly covered code."""
    codes = all_codes(grade_counts)
    groups, tags = list(groups), list(tags)
    _unique([g.name for g in groups], "group", "groups")
    _unique([t.name for t in tags], "tag", "tags")
    if segments is None:
        segment_of = {code: None for code in codes}
        group_of = {code: group.name for code, group in _level_by_codes(
            groups, "groups", "group", grade_counts, metrics, codes).items()}
    else:
        segments = list(segments)
        _unique([s.name for s in segments], "segment", "segments")
        segment_of = _level_by_codes(segments, "segments", "segment", grade_counts, metrics,
                                     codes)
        group_of = _groups_of_segments(segments, groups, segment_of)
    by_name = {g.name: g for g in groups}
    tag_codes = [(t.name, _codes_of(t, f"tags[{index}]", grade_counts, metrics))
                 for index, t in enumerate(tags)]
    table = {}
    for code in codes:
        segment, group = segment_of[code], by_name.get(group_of[code])
        table[code] = CodeEntry(
            code=code,
            segment=segment.name if segment else code,
            segment_id=getattr(segment, "id", None),
            segment_action=getattr(segment, "action", None),
            group=group_of[code],
            group_id=getattr(group, "id", None),
            group_action=getattr(group, "action", None),
            attributes=dict(sorted((getattr(group, "attributes", None) or {}).items())),
            tags=tuple(name for name, covered in tag_codes if code in covered))
    _check_attributes(groups)
    return table


def _codes_of(rule: CodeRule, key: str, grade_counts: tuple[int, ...],
              metrics: tuple[str, ...]) -> set[str]:
    try:
        return rule_codes(rule, grade_counts, metrics)
    except RuleError as error:
        part = ".where" if str(error).startswith("where") else ".codes"
        raise RuleError(f"{key.split('[')[0]}: {error}", f"{key}{part}") from None


def _level_by_codes(rules: list, level: str, rule: str, grade_counts: tuple[int, ...],
                    metrics: tuple[str, ...], codes: list[str]) -> dict[str, Any]:
    if not rules:
        raise RuleError(f"{level}: define at least one {rule} with codes", level)
    members = {r.name: _codes_of(r, f"{level}[{index}]", grade_counts, metrics)
               for index, r in enumerate(rules)}
    covered = owners(members, codes)
    try:
        check_partition(covered, "codes", rule)
    except RuleError as error:
        raise RuleError(f"{level}: {error}", level) from None
    by_name = {r.name: r for r in rules}
    return {code: by_name[names[0]] for code, names in covered.items()}


def _groups_of_segments(segments: list, groups: list, segment_of: dict) -> dict[str, str]:
    missing = [s.name for s in segments if not s.group]
    if missing:
        raise RuleError(f"segments: no group given for {', '.join(missing)}", "segments")
    with_codes = [g.name for g in groups if g.codes or g.where]
    if with_codes:
        raise RuleError(f"groups: {', '.join(with_codes)} list codes, but segments name their "
                        "groups (codes on groups are for `segments: null`)", "groups")
    named, listed = {s.group for s in segments}, {g.name for g in groups}
    if listed - named:
        raise RuleError(f"groups: no segment belongs to {', '.join(sorted(listed - named))}",
                        "groups")
    if groups and named - listed:
        raise RuleError(f"groups: list every group the segments name, or none; missing "
                        f"{', '.join(sorted(named - listed))}", "groups")
    return {code: segment.group for code, segment in segment_of.items()}


_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_attributes(groups: list) -> None:
    for group in groups:
        for key in group.attributes or {}:
            if not _ATTRIBUTE.match(key) or key in RESERVED_COLUMNS:
                raise RuleError(f"groups: attribute name {key!r} must be lower-case letters, "
                                "digits and _, and not a column name of the run tables",
                                "groups")
    names = {tuple(sorted((g.attributes or {}).keys())) for g in groups}
    if len(names) > 1:
        raise RuleError("groups: every group must give the same attributes "
                        f"(found {' / '.join(', '.join(n) or 'none' for n in sorted(names))})",
                        "groups")
    for key in (names.pop() if names else ()):
        kinds = {type(g.attributes[key]) for g in groups}
        if len(kinds) > 1 or not kinds <= {int, str}:
            raise RuleError(f"groups: attribute {key!r} must be all integers or all text",
                            "groups")


def _unique(names: list[str], rule: str, key: str) -> None:
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise RuleError(f"{rule} names must be unique: {', '.join(doubled)}", key)
