"""BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way") and
Gamma-Gamma (Fader, Hardie and Lee 2005, "RFM and CLV"), fitted by maximum likelihood on
the distinct (x, t_x, T) combinations of a customer base with their counts: the driver
holds those combinations, never customers. Time is in weeks (`TIME_UNIT_DAYS`).

x: repeat purchase days (purchase days - 1); t_x: weeks from the first to the last
purchase; T: weeks from the first purchase to the as-of date.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize, special

TIME_UNIT_DAYS = 7


@dataclasses.dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    standard_errors: tuple[float, float, float, float] = (float("nan"),) * 4

    @property
    def params(self) -> np.ndarray:
        return np.array([self.r, self.alpha, self.a, self.b])


@dataclasses.dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    log_likelihood: float = float("nan")
    standard_errors: tuple[float, float, float] = (float("nan"),) * 3


def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood (FHL 2005, equation 6)."""
    return _per_combination(x, t_x, T)(params)


def bgnbd_negative_log_likelihood(x, t_x, T, counts):
    """The weighted sum of `bgnbd_log_likelihood`, negated, as a function of the log
    parameters: what the fit minimises."""
    log_likelihood = _per_combination(x, t_x, T)
    counts = np.asarray(counts, dtype=float)

    def negative(log_params) -> float:
        return -float(np.sum(counts * log_likelihood(np.exp(log_params))))
    return negative


def _per_combination(x, t_x, T):
    """Each combination's log-likelihood as a function of (r, alpha, a, b). The special
    functions and logarithms are taken once per distinct x, t_x and T (a few hundred
    each at any scale), not once per combination, which makes a fit's many evaluations
    several times cheaper."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    xs, of_x = np.unique(x, return_inverse=True)
    spans, of_span = np.unique(t_x, return_inverse=True)
    ages, of_age = np.unique(T, return_inverse=True)
    repeat = x > 0
    repeats = np.where(xs > 0, xs - 1, 0.0)

    def log_likelihood(params) -> np.ndarray:
        r, alpha, a, b = params
        per_x = (special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha)
                 + special.gammaln(a + b) + special.gammaln(b + xs) - special.gammaln(b)
                 - special.gammaln(a + b + xs))
        log_repeat = np.log(a) - np.log(b + repeats)
        a3 = -(r + x) * np.log(alpha + ages)[of_age]
        a4 = np.where(repeat, log_repeat[of_x] - (r + x) * np.log(alpha + spans)[of_span],
                      -np.inf)
        return per_x[of_x] + np.logaddexp(a3, a4)
    return log_likelihood


def fit_bgnbd(x, t_x, T, counts) -> BgNbd:
    """Maximum likelihood over combinations weighted by their counts, with standard
    errors from the inverse of the observed information (a numerical Hessian)."""
    negative = bgnbd_negative_log_likelihood(x, t_x, T, counts)
    found = _minimise(negative, np.log([1.0, 1.0, 1.0, 1.0]))
    params = np.exp(found.x)
    errors = _standard_errors(lambda p: -negative(np.log(p)), params)
    return BgNbd(*params, log_likelihood=-found.fun, standard_errors=tuple(errors))


def p_alive(model: BgNbd, x, t_x, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) (FHL 2005, equation 11): 1 without repeat purchases."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    repeat = x > 0
    odds = np.where(repeat, model.a / np.where(repeat, model.b + x - 1, 1.0)
                    * ((model.alpha + T) / (model.alpha + t_x)) ** (model.r + x), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(model: BgNbd, t: float, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, equation 10); needs a > 1."""
    r, alpha, a, b = model.params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyper
    return first * second * p_alive(model, x, t_x, T)


def p_no_purchase(model: BgNbd, t: float, x, t_x, T) -> np.ndarray:
    """P(no purchase in (T, T + t] | x, t_x, T): dead, or alive and no purchase, as an
    alive customer's rate is Gamma(r + x, alpha + T) and dropout follows purchases."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    quiet = ((model.alpha + T) / (model.alpha + T + t)) ** (model.r + x)
    return 1.0 - p_alive(model, x, t_x, T) * (1.0 - quiet)


def gamma_gamma_log_likelihood(params, x, mean_value) -> np.ndarray:
    """Each repeat customer's log-likelihood of their mean order value (FHL 2005b)."""
    p, q, v = params
    x, m = np.asarray(x, dtype=float), np.asarray(mean_value, dtype=float)
    return (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q)
            + q * np.log(v) + (p * x - 1) * np.log(m) + p * x * np.log(x)
            - (p * x + q) * np.log(v + x * m))


def fit_gamma_gamma(x, mean_value, counts) -> GammaGamma:
    """Maximum likelihood on customers with x >= 1 and a positive mean value."""
    counts = np.asarray(counts, dtype=float)

    def negative(log_params):
        return -np.sum(counts * gamma_gamma_log_likelihood(np.exp(log_params), x, mean_value))
    found = _minimise(negative, np.log([1.0, 1.0, 1.0]))
    params = np.exp(found.x)
    errors = _standard_errors(lambda p: -negative(np.log(p)), params)
    return GammaGamma(*params, log_likelihood=-found.fun, standard_errors=tuple(errors))


def expected_order_value(model: GammaGamma, x, mean_value) -> np.ndarray:
    """E[order value | x, mean] = p (v + x m) / (p x + q - 1); the population mean
    p v / (q - 1) without repeat purchases."""
    x, m = np.asarray(x, dtype=float), np.asarray(mean_value, dtype=float)
    return model.p * (model.v + x * np.nan_to_num(m)) / (model.p * x + model.q - 1)


def clv(bgnbd: BgNbd, value, months: int, monthly_discount: float, x, t_x, T) -> np.ndarray:
    """Expected purchases in each of the next `months` months times the expected order
    value, discounted by `monthly_discount` per month."""
    weeks_per_month = 365.25 / 12 / TIME_UNIT_DAYS
    total, before = 0.0, 0.0
    for month in range(1, months + 1):
        cumulative = expected_purchases(bgnbd, month * weeks_per_month, x, t_x, T)
        total = total + (cumulative - before) * value / (1 + monthly_discount) ** month
        before = cumulative
    return total


def _minimise(negative, start):
    """Nelder-Mead near the optimum (in log parameters, to a millionth of the
    log-likelihood: an absolute tolerance would be far below the rounding of a sum over
    a million customers), then L-BFGS-B to polish it."""
    tolerance = 1e-6 * max(1.0, abs(negative(start)))
    found = optimize.minimize(negative, start, method="Nelder-Mead",
                              options={"maxiter": 20_000, "xatol": 1e-4, "fatol": tolerance})
    return optimize.minimize(negative, found.x, method="L-BFGS-B")


def _standard_errors(log_likelihood, params: np.ndarray) -> np.ndarray:
    """sqrt of the diagonal of the inverse negative Hessian (central differences)."""
    n = len(params)
    steps = 1e-4 * np.maximum(np.abs(params), 1e-3)
    hessian = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            def at(di, dj):
                moved = params.copy()
                moved[i] += di * steps[i]
                moved[j] += dj * steps[j]
                return log_likelihood(moved)
            hessian[i, j] = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (
                4 * steps[i] * steps[j])
    try:
        covariance = np.linalg.inv(-hessian)
    except np.linalg.LinAlgError:
        return np.full(n, np.nan)
    return np.sqrt(np.where(np.diag(covariance) > 0, np.diag(covariance), np.nan))
