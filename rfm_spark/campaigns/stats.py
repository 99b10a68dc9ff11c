"""The statistics of a test/control comparison, on counts per cell (a few numbers per
segment code: the driver never sees a customer). Formulas and references:
docs/campaigns.md.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

from scipy import stats

Z_95 = float(stats.norm.ppf(0.975))        # 1.959964...
Z_POWER_80 = float(stats.norm.ppf(0.80))   # 0.841621...
FISHER_BELOW = 5                    # an expected count below this: Fisher's exact test


@dataclasses.dataclass(frozen=True)
class Arms:
    """Members and responders of each arm of one cell (or level value)."""
    test: int
    control: int
    test_responders: int
    control_responders: int

    @property
    def both(self) -> bool:
        return self.test > 0 and self.control > 0


@dataclasses.dataclass(frozen=True)
class Comparison:
    lift: float
    ci_low: float
    ci_high: float
    p_value: float
    test_used: str   # "z" or "fisher" (or "stratified z" for a post-stratified total)
    mde: float


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval for a proportion (Wilson 1927)."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(arms: Arms, z: float = Z_95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for test rate minus control rate (Newcombe 1998,
    method 10): the two Wilson intervals combined."""
    p1, p0 = arms.test_responders / arms.test, arms.control_responders / arms.control
    l1, u1 = wilson(arms.test_responders, arms.test, z)
    l0, u0 = wilson(arms.control_responders, arms.control, z)
    lift = p1 - p0
    return (lift - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
            lift + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2))


def p_value(arms: Arms) -> tuple[float, str]:
    """Two-sided p-value of equal rates: the pooled two-proportion z-test, or Fisher's
    exact test when an expected count of the 2 x 2 table is below 5."""
    n = arms.test + arms.control
    responders = arms.test_responders + arms.control_responders
    expected = [size * share for size in (arms.test, arms.control)
                for share in (responders / n, 1 - responders / n)]
    if min(expected) < FISHER_BELOW:
        table = [[arms.test_responders, arms.test - arms.test_responders],
                 [arms.control_responders, arms.control - arms.control_responders]]
        return float(stats.fisher_exact(table, alternative="two-sided").pvalue), "fisher"
    pooled = responders / n
    se = math.sqrt(pooled * (1 - pooled) * (1 / arms.test + 1 / arms.control))
    z = (arms.test_responders / arms.test - arms.control_responders / arms.control) / se
    return float(2 * stats.norm.sf(abs(z))), "z"


def mde(arms: Arms) -> float:
    """The smallest lift a two-sided 5% test detects with 80% power at these arm sizes,
    at the pooled response rate (the rate both arms share when there is no effect)."""
    pooled = (arms.test_responders + arms.control_responders) / (arms.test + arms.control)
    return (Z_95 + Z_POWER_80) * math.sqrt(pooled * (1 - pooled)
                                           * (1 / arms.test + 1 / arms.control))


def compare(arms: Arms) -> Comparison:
    """Lift, its interval, p-value and MDE of one cell with both arms."""
    low, high = newcombe(arms)
    p, test_used = p_value(arms)
    lift = arms.test_responders / arms.test - arms.control_responders / arms.control
    return Comparison(lift, low, high, p, test_used, mde(arms))


def post_stratified(cells: Sequence[Arms]) -> Comparison:
    """The lift over cells weighted by their share of members (cells with both arms),
    with a normal interval and z-test from the stratified variance
    sum(w^2 (p1 (1 - p1) / n1 + p0 (1 - p0) / n0))."""
    cells = [cell for cell in cells if cell.both]
    members = sum(cell.test + cell.control for cell in cells)
    lift = variance = null_variance = 0.0
    for cell in cells:
        weight = (cell.test + cell.control) / members
        p1, p0 = cell.test_responders / cell.test, cell.control_responders / cell.control
        pooled = (cell.test_responders + cell.control_responders) / (cell.test + cell.control)
        lift += weight * (p1 - p0)
        variance += weight ** 2 * (p1 * (1 - p1) / cell.test + p0 * (1 - p0) / cell.control)
        null_variance += weight ** 2 * pooled * (1 - pooled) * (1 / cell.test + 1 / cell.control)
    se = math.sqrt(variance)
    p = 2 * stats.norm.sf(abs(lift) / se) if se > 0 else (1.0 if lift == 0 else 0.0)
    return Comparison(lift, lift - Z_95 * se, lift + Z_95 * se, float(p), "stratified z",
                      (Z_95 + Z_POWER_80) * math.sqrt(null_variance))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979), in the order given."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def srm_p_value(arms: Arms, control_share: float) -> float:
    """Sample-ratio mismatch: chi-square goodness of fit of the arm sizes against the
    planned control share (1 degree of freedom)."""
    n = arms.test + arms.control
    expected = [n * control_share, n * (1 - control_share)]
    return float(stats.chisquare([arms.control, arms.test], expected).pvalue)
