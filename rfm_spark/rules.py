"""Segment rules: code patterns, their expansion and the coverage check.

A pattern has one token per graded metric, R first:
  `3`      that grade;
  `(1,2)`  any of the listed grades;
  `(1-3)`  any grade in the range;
  `*`      any grade.
So with three 4-grade metrics `41(1,2)(1-3)` is not valid (four tokens) but
`4(1,2)(1-3)` covers 411, 412, 413, 421, 422, 423. Pure Python: checked before Spark starts.
"""
from __future__ import annotations

import itertools
import re
from typing import Iterable, Protocol

_TOKEN = re.compile(r"\d|\*|\([^()]*\)")


class RuleError(ValueError):
    pass


class Rule(Protocol):
    name: str
    group: str
    codes: list[str]


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


def all_codes(grade_counts: tuple[int, ...]) -> list[str]:
    return expand("*" * len(grade_counts), grade_counts)


def code_table(rules: Iterable[Rule], grade_counts: tuple[int, ...]) -> dict[str, Rule]:
    """Map every code to the one rule covering it (after `check_coverage`)."""
    check_coverage(rules, grade_counts)
    return {code: rule for rule in rules for pattern in rule.codes
            for code in expand(pattern, grade_counts)}


def check_coverage(rules: Iterable[Rule], grade_counts: tuple[int, ...]) -> None:
    """Every possible code must be covered by exactly one rule."""
    owners: dict[str, list[str]] = {code: [] for code in all_codes(grade_counts)}
    for rule in rules:
        covered = {code for pattern in rule.codes for code in expand(pattern, grade_counts)}
        for code in covered:
            owners[code].append(rule.name)
    uncovered = sorted(code for code, names in owners.items() if not names)
    doubled = {code: names for code, names in sorted(owners.items()) if len(names) > 1}
    problems = []
    if uncovered:
        problems.append(f"codes covered by no segment: {', '.join(uncovered)}")
    if doubled:
        listed = "; ".join(f"{code} ({' / '.join(names)})" for code, names in doubled.items())
        problems.append(f"codes covered by more than one segment: {listed}")
    if problems:
        raise RuleError(". ".join(problems))
