"""The 1-session scale's filter (forecasting/distribution/updating.py) on residuals whose answer is
known: i.i.d. residuals keep the network's scale, clustered ones are tracked, and each day's
multiplier reads only the residuals of the days before it."""
from __future__ import annotations

import numpy as np

from forecasting.distribution.updating import WEIGHTS, VarianceUpdate, ewma_before, fit_update


def clustered(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-variance GARCH(1,1) residuals and their true conditional standard deviation."""
    rng = np.random.default_rng(seed)
    alpha, beta = 0.10, 0.88
    var, out, sd = 1.0, np.empty(n), np.empty(n)
    for t in range(n):
        sd[t] = np.sqrt(var)
        out[t] = sd[t] * rng.standard_normal()
        var = (1 - alpha - beta) + alpha * out[t] ** 2 + beta * var
    return out, sd


def test_iid_residuals_keep_the_networks_scale():
    u = np.random.default_rng(0).standard_normal(1000)
    update = fit_update(u, np.inf)
    multipliers = update.multipliers(np.random.default_rng(1).standard_normal(250))
    assert update.weight <= 0.25
    assert np.all((multipliers > 0.8) & (multipliers < 1.25))


def test_clustered_residuals_are_tracked_day_by_day():
    u, sd = clustered(3000, seed=2)
    update = fit_update(u[:1000], np.inf)
    assert update.weight >= 0.5
    # continuing from the state after the 1000th residual, the multipliers follow the true sd
    tracked = VarianceUpdate(update.decay, update.weight, update.state).multipliers(u[1000:])
    assert np.corrcoef(tracked, sd[1000:])[0, 1] > 0.7


def test_a_multiplier_reads_only_earlier_residuals_and_skips_unknown_ones():
    update = VarianceUpdate(decay=0.9, weight=0.5, state=2.0)
    u = np.ones(5)
    base = update.multipliers(u)
    assert base[0] == np.sqrt(0.5 * 2.0 + 0.5)
    u[2] = 10.0
    moved = update.multipliers(u)
    np.testing.assert_array_equal(moved[:3], base[:3])
    assert moved[3] > base[3]
    u[2] = np.nan  # not known yet: the state carries over
    np.testing.assert_allclose(update.multipliers(u)[3], np.sqrt(0.5 * (0.9 * (0.9 * 2 + 0.1) + 0.1) + 0.5))


def test_the_recursion_matches_its_definition():
    x = np.random.default_rng(3).random(50)
    v = ewma_before(x, 0.94)
    expected = [1.0]
    for value in x:
        expected.append(0.94 * expected[-1] + 0.06 * value)
    np.testing.assert_allclose(v, expected)
    assert WEIGHTS[0] == 0.0  # the unfiltered scale is always a candidate
