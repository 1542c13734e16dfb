"""Metrics agree with a direct computation from the returns."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.pipeline.metrics import performance
from forecasting.scoring import diebold_mariano, score_forecasts, wilson_interval


def test_performance_matches_hand_computation():
    r = pd.Series([0.0, 0.10, -0.20, 0.05, 0.0, 0.10])
    m = performance(r, periods_per_year=252)
    growth = np.cumprod(1 + r.to_numpy())
    assert m["total_return"] == pytest.approx(growth[-1] - 1)
    assert m["cagr"] == pytest.approx(growth[-1] ** (252 / 6) - 1)
    assert m["volatility"] == pytest.approx(r.std(ddof=1) * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert m["sortino"] == pytest.approx(r.mean() / downside * math.sqrt(252))
    # peak 1.1 after day 1, trough 1.1 * 0.8 = 0.88 after day 2
    assert m["max_drawdown"] == pytest.approx(0.88 / 1.1 - 1)


def test_drawdown_counts_a_loss_on_the_first_day():
    assert performance(pd.Series([-0.1, 0.05]))["max_drawdown"] == pytest.approx(-0.1)


def test_persistence_is_the_zero_return_forecast():
    index = pd.bdate_range("2020-01-01", periods=5)
    actual = np.array([0.01, -0.02, 0.03, 0.01, np.nan])
    close = pd.Series([100.0, 101, 99, 102, 103], index=index)
    preds = pd.DataFrame({"forecast": [0.0] * 5, "actual": actual, "fold": 0}, index=index)
    block = score_forecasts(preds, close)
    assert block["samples"] == 4
    assert block["mse"] == pytest.approx(block["persistence"]["mse"])
    assert block["theil_u"] == pytest.approx(1.0)
    assert block["persistence"]["mape"] == pytest.approx(
        np.mean(np.abs(1 - np.exp(actual[:4])) / np.exp(actual[:4])) * 100)
    assert not block["beats_persistence"]


def test_wilson_interval_and_dm_sign():
    low, high = wilson_interval(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)  # textbook Wilson values
    rng = np.random.default_rng(0)
    noise = rng.normal(size=500)
    stat, p = diebold_mariano(0.1 * noise, noise)  # far smaller errors than the naive ones
    assert stat < 0 and p < 1e-6


def test_verdict_compares_directional_accuracy_with_always_up():
    index = pd.bdate_range("2020-01-01", periods=6)
    actual = np.array([0.01, 0.02, 0.03, -0.01, 0.01, np.nan])  # 4 of 5 days up
    forecast = np.array([0.001, -0.001, 0.001, 0.001, 0.001, 0.0])  # right on 3 of 5
    close = pd.Series(100.0, index=index)
    preds = pd.DataFrame({"forecast": forecast, "actual": actual, "fold": 0}, index=index)
    text = score_forecasts(preds, close)["verdict"]
    assert "Its directional accuracy (60.0%) is below the 80.0% of always guessing 'up'." in text


def test_sharpe_objective_is_zero_only_when_the_sharpe_is_undefined():
    from backtests.pipeline.metrics import sharpe_objective

    flat = performance(pd.Series([0.0] * 5))  # never traded: zero volatility, no Sharpe
    assert math.isnan(flat["sharpe"]) and sharpe_objective({"strategy": flat}) == 0.0
    assert sharpe_objective({"strategy": {"sharpe": None}}) == 0.0  # NaN as metrics.json stores it
    assert sharpe_objective({"strategy": {"sharpe": np.float64(1.25)}}) == 1.25
    # A bug upstream must not look like holding cash.
    for broken in ({"strategy": {"sharpe": [1.0]}}, {"strategy": {"sharpe": "1.5"}}):
        with pytest.raises(TypeError, match="not a number"):
            sharpe_objective(broken)
    for missing in ({}, {"strategy": {}}, {"strategy": None}):
        with pytest.raises((KeyError, TypeError)):
            sharpe_objective(missing)
