"""BG/NBD and Gamma-Gamma against hand-computed likelihoods and simulated customers."""
import math

import numpy as np
import pytest

from rfm_spark.churn import btyd

PARAMS = (1.0, 2.0, 1.0, 2.0)  # r, alpha, a, b


def test_bgnbd_log_likelihood_by_hand():
    # x = 0, T = 10: B(a, b)/B(a, b) x alpha^r / (alpha + T)^r = 2 / 12
    # x = 2, t_x = 4, T = 10: B(1, 4)/B(1, 2) x 2! 2 / 12^3 + B(2, 3)/B(1, 2) x 2! 2 / 6^3
    #   = 1/864 + 1/324 = 11/2592
    found = btyd.bgnbd_log_likelihood(PARAMS, [0, 2], [0, 4], [10, 10])
    assert found == pytest.approx([math.log(1 / 6), math.log(11 / 2592)])


def test_p_alive_is_one_without_repeat_purchases_and_by_hand_with_them():
    model = btyd.BgNbd(*PARAMS)
    # odds = a / (b + x - 1) x ((alpha + T) / (alpha + t_x))^(r + x) = 1/3 x 2^3
    assert btyd.p_alive(model, [0, 0, 2], [0, 0, 4], [10, 50, 10]) == pytest.approx(
        [1.0, 1.0, 3 / 11])


def test_no_purchase_probability_and_expected_purchases_agree_at_small_horizons():
    model = btyd.BgNbd(0.5, 4.0, 0.8, 2.5)
    x, t_x, T = np.array([0, 3, 10]), np.array([0, 20, 30]), np.array([30, 40, 31])
    tiny = 1e-4
    # For a short horizon, P(a purchase) ~ E[purchases].
    assert 1 - btyd.p_no_purchase(model, tiny, x, t_x, T) == pytest.approx(
        btyd.expected_purchases(model, tiny, x, t_x, T), rel=1e-3)
    assert np.all(np.diff(btyd.expected_purchases(model, np.array(4.0), x, t_x, T)) != 0)


def simulate(r, alpha, a, b, customers, seed):
    """Customers from the BG/NBD story: Poisson purchases at a Gamma rate, and after each
    purchase a Beta-distributed chance of leaving; observed for T weeks."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(r, 1 / alpha, customers)
    leave = rng.beta(a, b, customers)
    T = rng.uniform(20, 80, customers)
    x, t_x = np.zeros(customers), np.zeros(customers)
    for i in range(customers):
        clock = 0.0
        while True:
            clock += rng.exponential(1 / rates[i])
            if clock > T[i]:
                break
            x[i] += 1
            t_x[i] = clock
            if rng.random() < leave[i]:
                break
    return x, t_x, T


def test_the_fit_recovers_the_parameters_of_simulated_customers():
    truth = (0.5, 4.0, 0.8, 2.5)
    x, t_x, T = simulate(*truth, customers=6000, seed=7)
    model = btyd.fit_bgnbd(x, t_x, T, np.ones_like(x))
    for found, true, error in zip(model.params, truth, model.standard_errors):
        assert abs(found - true) < 2.5 * error, (found, true, error)
    assert model.log_likelihood == pytest.approx(
        btyd.bgnbd_log_likelihood(model.params, x, t_x, T).sum())
    # Weighted combinations give the same fit as one row per customer.
    rounded = np.round(T)
    keys, counts = np.unique(np.stack([x, np.round(t_x), rounded]), axis=1, return_counts=True)
    by_row = btyd.fit_bgnbd(x, np.round(t_x), rounded, np.ones_like(x))
    combined = btyd.fit_bgnbd(keys[0], keys[1], keys[2], counts)
    assert combined.params == pytest.approx(by_row.params, rel=1e-4)


def test_gamma_gamma_log_likelihood_by_hand_and_fit():
    # p = 2, q = 3, v = 4, x = 1, m = 2: Gamma(5)/(Gamma(2) Gamma(3)) 4^3 2^1 1^2 / 6^5
    found = btyd.gamma_gamma_log_likelihood((2.0, 3.0, 4.0), [1], [2.0])
    assert found == pytest.approx([math.log(24 / 2 * 64 * 2 / 6 ** 5)])
    rng = np.random.default_rng(3)
    p, q, v = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, 5000)
    x = rng.integers(1, 10, 5000)
    means = np.array([rng.gamma(p, 1 / n, k).mean() for n, k in zip(nu, x)])
    model = btyd.fit_gamma_gamma(x, means, np.ones_like(means))
    for found, true, error in zip((model.p, model.q, model.v), (p, q, v), model.standard_errors):
        assert abs(found - true) < 2.5 * error, (found, true, error)
    # The population mean p v / (q - 1) without repeat purchases.
    assert btyd.expected_order_value(model, 0, np.nan) == pytest.approx(
        model.p * model.v / (model.q - 1))


def test_models_fitted_on_spark_customer_days_match_the_direct_fit(spark):
    """Customer days of simulated customers -> combinations -> the same fit as numpy on
    the customers, and scores for every customer."""
    import datetime as dt
    from decimal import Decimal

    from rfm_spark.churn.value import fit, rfm_at, scores
    x, t_x, T = simulate(0.5, 4.0, 0.8, 2.5, customers=1500, seed=11)
    as_of = dt.date(2024, 1, 1)
    days = []
    for i, (xi, txi, Ti) in enumerate(zip(x, t_x, T)):
        first = as_of - dt.timedelta(days=int(round(Ti * 7)))
        span = int(round(txi * 7))
        offsets = sorted({0, span} | {int(span * k / max(xi, 1)) for k in range(int(xi) + 1)})
        days += [(f"c{i}", first + dt.timedelta(days=o), 1, Decimal(str(5 + i % 7)))
                 for o in offsets[:int(xi) + 1]]
    frame = spark.createDataFrame(days, "customer_id string, purchase_date date, orders long, "
                                        "amount decimal(38,8)")
    per_customer = rfm_at(frame, as_of)
    fitted = fit(per_customer)
    rows = np.array(per_customer.select("x", "t_x_days", "T_days").collect(), dtype=float)
    direct = btyd.fit_bgnbd(rows[:, 0], rows[:, 1] / 7, rows[:, 2] / 7, np.ones(len(rows)))
    assert fitted.bgnbd.params == pytest.approx(direct.params, rel=1e-3)
    scored = scores(spark, per_customer, fitted, 90)
    assert scored.count() == per_customer.count()
    single = scored.where("x = 0").select("p_alive").distinct().collect()
    assert [r.p_alive for r in single] == [1.0]
    assert fitted.gamma_gamma is not None and fitted.gamma_gamma.q > 1


def test_the_fits_objective_is_the_negated_weighted_log_likelihood():
    x, t_x, T = simulate(0.5, 4.0, 0.8, 2.5, customers=500, seed=5)
    counts = np.arange(1, len(x) + 1, dtype=float)
    negative = btyd.bgnbd_negative_log_likelihood(x, t_x, T, counts)
    for params in ([0.5, 4.0, 0.8, 2.5], [2.0, 0.3, 1.7, 0.9]):
        assert negative(np.log(params)) == pytest.approx(
            -np.sum(counts * btyd.bgnbd_log_likelihood(params, x, t_x, T)), rel=1e-12)
