"""Portfolio VaR/ES and Euler contributions: known answers on hand-made returns, no look-ahead, the
book's var_backtests recomputed from the written var.csv, and the universe's risk cache."""
from __future__ import annotations

import logging
import math
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtests.atomic import write_csv
from backtests.pipeline.risk import RiskRun
from backtests.pipeline.universe_risk import universe_var_table, vol_panel
from forecasting.risk.evaluation import backtest_table, risk_block
from forecasting.risk.portfolio import contribution_shares, correlation, portfolio_risk
from tests.builders import build, source

LEVELS = [0.95, 0.99]
DATES = pd.bdate_range("2020-01-01", periods=80, name="date")
Z = {level: stats.norm.ppf(1 - level) for level in LEVELS}  # -1.645, -2.326
ES = {level: stats.norm.pdf(Z[level]) / (1 - level) for level in LEVELS}


def orthogonal_returns(theta: float) -> pd.DataFrame:
    """Three return series with sample correlations known exactly: rho(A, B) = 0 (period-4
    patterns, mean 0, cross-products cancel every 4 days), rho(A, C) = cos(theta), rho(B, C) =
    sin(theta) (C is a rotation of A and B, which have equal norms)."""
    a = np.tile([1.0, -1.0, 1.0, -1.0], 20) * 0.01
    b = np.tile([1.0, 1.0, -1.0, -1.0], 20) * 0.01
    c = math.cos(theta) * a + math.sin(theta) * b
    return pd.DataFrame({"A": a, "B": b, "C": c}, index=DATES)


def book(weights: dict[str, float], vol: dict[str, float], returns: pd.DataFrame, **kwargs):
    """portfolio_risk on the last date only, constant volatility forecasts (method 'ewma')."""
    w = pd.DataFrame([weights], index=DATES[-1:]).reindex(columns=returns.columns, fill_value=0.0)
    vols = {"ewma": pd.DataFrame([vol], index=DATES[-1:]).reindex(columns=returns.columns)}
    realised = pd.Series(np.nan, index=DATES)
    return portfolio_risk(w, vols, returns, realised, LEVELS, **kwargs)


def row(frame: pd.DataFrame, method: str) -> pd.Series:
    return frame[frame["method"] == method].iloc[-1]


@pytest.mark.parametrize("theta", [0.0, math.pi / 2, math.pi / 3, 2.5])
def test_two_assets_against_the_hand_computed_covariance(theta):
    w1, w2, s1, s2, rho = 0.6, -0.2, 0.01, 0.02, math.cos(theta)
    frame, contributions = book({"A": w1, "C": w2}, {"A": s1, "C": s2}, orthogonal_returns(theta))
    sigma = math.sqrt(w1**2 * s1**2 + w2**2 * s2**2 + 2 * w1 * w2 * rho * s1 * s2)
    got = row(frame, "ewma")
    assert got["volatility"] == pytest.approx(sigma, rel=1e-12)
    for level in LEVELS:
        assert got[f"var_{round(level * 100)}"] == pytest.approx(-Z[level] * sigma, rel=1e-12)
        assert got[f"es_{round(level * 100)}"] == pytest.approx(ES[level] * sigma, rel=1e-12)
    mine = contributions[contributions["method"] == "ewma"].set_index("ticker")["contribution"]
    assert mine["A"] == pytest.approx(w1 * (w1 * s1**2 + w2 * rho * s1 * s2) / sigma, rel=1e-12)
    assert mine["C"] == pytest.approx(w2 * (w2 * s2**2 + w1 * rho * s1 * s2) / sigma, rel=1e-12)
    assert mine.sum() == pytest.approx(sigma, rel=1e-13)


def test_perfectly_correlated_and_independent_assets():
    returns = orthogonal_returns(0.0)  # C = A: correlation 1; B independent of both
    w, s = {"A": 0.5, "C": 0.25}, {"A": 0.01, "C": 0.03}
    assert row(book(w, s, returns)[0], "ewma")["volatility"] == pytest.approx(
        0.5 * 0.01 + 0.25 * 0.03, rel=1e-12)  # sum |w_i| sigma_i
    w, s = {"A": 0.5, "B": -0.25}, {"A": 0.01, "B": 0.03}
    assert row(book(w, s, returns)[0], "ewma")["volatility"] == pytest.approx(
        math.hypot(0.5 * 0.01, 0.25 * 0.03), rel=1e-12)  # root sum of squares


def test_three_assets_and_their_euler_contributions():
    theta = math.pi / 6  # rho(A,B) = 0, rho(A,C) = cos 30 deg, rho(B,C) = sin 30 deg = 0.5
    w = np.array([0.4, 0.35, -0.2])
    s = np.array([0.012, 0.02, 0.015])
    rho = np.array([[1, 0, math.cos(theta)], [0, 1, 0.5], [math.cos(theta), 0.5, 1]])
    cov = [[rho[i][j] * s[i] * s[j] for j in range(3)] for i in range(3)]
    marginal = [sum(cov[i][j] * w[j] for j in range(3)) for i in range(3)]
    sigma = math.sqrt(sum(w[i] * marginal[i] for i in range(3)))
    frame, contributions = book(dict(zip("ABC", w)), dict(zip("ABC", s)), orthogonal_returns(theta))
    assert row(frame, "ewma")["volatility"] == pytest.approx(sigma, rel=1e-12)
    assert row(frame, "ewma")["var_99"] == pytest.approx(2.3263478740408408 * sigma, rel=1e-12)
    mine = contributions[contributions["method"] == "ewma"]
    assert mine["contribution"].to_numpy() == pytest.approx(
        [w[i] * marginal[i] / sigma for i in range(3)], rel=1e-12)
    assert mine["weight"].to_numpy() == pytest.approx(w, rel=0)
    shares = contribution_shares(contributions, "ewma")
    assert list(shares.columns) == ["A", "B", "C"]
    assert shares.iloc[0].sum() == pytest.approx(1.0, abs=1e-14)
    assert shares.iloc[0].to_numpy() == pytest.approx(mine["contribution"].to_numpy() / sigma)


def test_historical_simulation_equals_the_hand_computed_empirical_quantile():
    rng = np.random.default_rng(3)
    returns = pd.DataFrame(rng.standard_t(4, (80, 2)) * 0.01, index=DATES, columns=["A", "B"])
    w = {"A": 0.7, "B": -0.4}
    frame, contributions = book(w, {"A": 0.01, "B": 0.01}, returns, corr_window=60)
    sample = sorted(0.7 * a - 0.4 * b for a, b in returns.iloc[-60:].to_numpy())  # the last 60 days
    got = row(frame, "historical")
    for level, a in ((0.95, 0.05), (0.99, 0.01)):
        h = a * (len(sample) - 1)  # numpy's linear interpolation between order statistics
        q = sample[int(h)] + (h - int(h)) * (sample[int(h) + 1] - sample[int(h)])
        tail = [x for x in sample if x <= q]
        assert got[f"var_{round(level * 100)}"] == pytest.approx(-q, rel=1e-12)
        assert got[f"es_{round(level * 100)}"] == pytest.approx(-sum(tail) / len(tail), rel=1e-12)
    assert got["volatility"] == pytest.approx(np.std(sample, ddof=1), rel=1e-12)
    hs = contributions[contributions["method"] == "historical"]["contribution"]
    assert hs.sum() == pytest.approx(np.std(sample, ddof=1), rel=1e-12)


def test_a_flat_book_has_zero_risk_not_nan():
    frame, contributions = book({}, {"A": 0.01, "B": 0.02, "C": 0.01}, orthogonal_returns(1.0))
    assert set(frame["method"]) == {"ewma", "historical"}
    measures = frame[["volatility", "var_95", "es_95", "var_99", "es_99"]].to_numpy()
    assert (measures == 0.0).all() and not np.signbit(measures).any()
    assert contributions.empty


def test_a_late_listing_has_correlation_zero_until_it_has_the_history(caplog):
    rng = np.random.default_rng(5)
    returns = pd.DataFrame(rng.normal(0, 0.01, (80, 3)), index=DATES, columns=["A", "B", "C"])
    returns.iloc[:50, 2] = np.nan  # C: 30 returns, fewer than the 60 a correlation needs
    with caplog.at_level(logging.WARNING):
        frame, _ = book({"A": 0.5, "B": 0.3, "C": 0.2}, {"A": 0.01, "B": 0.02, "C": 0.03}, returns)
    rho = float(returns["A"].corr(returns["B"]))
    sigma = math.sqrt(0.005**2 + 0.006**2 + 2 * rho * 0.005 * 0.006 + 0.006**2)
    assert row(frame, "ewma")["volatility"] == pytest.approx(sigma, rel=1e-12)
    # historical simulation leaves C out (too short a history) and says so
    sample = 0.5 * returns["A"] + 0.3 * returns["B"]
    assert row(frame, "historical")["volatility"] == pytest.approx(sample.std(ddof=1), rel=1e-12)
    assert "1 held name-days left out of historical simulation" in caplog.text


def test_pairwise_correlation_equals_pandas_on_gappy_returns():
    rng = np.random.default_rng(7)
    window = rng.normal(0.001, 0.01, (120, 4))
    window[rng.random((120, 4)) < 0.2] = np.nan
    window[:70, 3] = np.nan  # the last name shares fewer than 60 days with every other
    mine, repaired = correlation(window, min_obs=60)
    expected = pd.DataFrame(window).corr(min_periods=60).fillna(0.0).to_numpy().copy()
    np.fill_diagonal(expected, 1.0)
    assert not repaired
    assert mine == pytest.approx(expected, abs=1e-12)


def random_book(seed: int = 11, n: int = 300, tickers=("A", "B", "C")):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-01", periods=n, name="date")
    returns = pd.DataFrame(rng.normal(0, 0.01, (n, len(tickers))), index=dates, columns=list(tickers))
    weights = pd.DataFrame(rng.normal(0, 0.4, (n, len(tickers))), index=dates, columns=list(tickers))
    weights.iloc[:100] = np.nan  # before the book trades: no rows needed, none broken
    vols = {m: pd.DataFrame(0.008 + 0.004 * rng.random((n, len(tickers))), index=dates,
                            columns=list(tickers)) for m in ("lstm", "ewma")}
    realised = (weights * returns.shift(-1)).sum(axis=1, min_count=1) * 1.4  # breaches happen
    return weights.iloc[100:], vols, returns, realised


def test_no_row_reads_anything_after_its_date():
    weights, vols, returns, realised = random_book()
    cutoff = weights.index[120]
    before = portfolio_risk(weights, vols, returns, realised, LEVELS, corr_window=100)
    later = returns.index > cutoff
    altered = returns.copy()
    altered.loc[later] = altered.loc[later] * 7
    altered.iloc[-30:, 1] = np.nan
    moved_w = weights.copy()
    moved_w.loc[moved_w.index > cutoff] *= -3
    moved_v = {m: v.copy() for m, v in vols.items()}
    for v in moved_v.values():
        v.loc[v.index > cutoff] *= 2
    after = portfolio_risk(moved_w, moved_v, altered, realised, LEVELS, corr_window=100)
    for old, new in zip(before, after):  # the risk rows (indexed by date), then the contributions
        old, new = old.reset_index(), new.reset_index()
        early = (old["date"] <= cutoff).to_numpy()
        assert early.sum() == 3 * 121 or "ticker" in old
        pd.testing.assert_frame_equal(old[early].reset_index(drop=True),
                                      new[(new["date"] <= cutoff).to_numpy()].reset_index(drop=True),
                                      check_exact=True)
        numbers = ["volatility", "var_99"] if "var_99" in old else ["weight", "contribution"]
        assert not np.allclose(old.loc[~early, numbers], new.loc[~early, numbers])


def test_a_held_name_without_a_forecast_leaves_the_date_out_for_every_method(caplog):
    weights, vols, returns, realised = random_book(n=160)
    vols["lstm"].iloc[130, 0] = np.nan
    with caplog.at_level(logging.WARNING):
        frame, _ = portfolio_risk(weights, vols, returns, realised, LEVELS, corr_window=100)
    missing = vols["lstm"].index[130]
    assert missing not in frame.index
    assert frame.groupby("method").size().to_dict() == {"lstm": 59, "ewma": 59, "historical": 59}
    assert "1 of 60 dates left out" in caplog.text


def fake_run(ticker_seed: int, dates: pd.DatetimeIndex) -> RiskRun:
    """A ticker's risk frame as the walk-forward writes it (two methods, folds of 30 days)."""
    rng = np.random.default_rng(ticker_seed)
    parts = []
    for method in ("ewma", "historical"):
        vol = 0.01 + 0.002 * rng.random(len(dates))
        part = pd.DataFrame({"method": method, "volatility": vol}, index=dates)
        for level in LEVELS:
            part[f"var_{round(level * 100)}"] = -Z[level] * vol
            part[f"es_{round(level * 100)}"] = ES[level] * vol
        part["realised"] = rng.normal(0, 0.012, len(dates))
        part["fold"] = np.arange(len(dates)) // 30
        parts.append(part)
    frame = pd.concat(parts)
    frame.index.name = "date"
    settings = build("risk_model/default", methods=["ewma", "historical"])
    return RiskRun(frame, settings, f"key{ticker_seed}", False)


def test_portfolio_backtests_equal_an_independent_computation_from_var_csv(tmp_path):
    weights, vols, returns, realised = random_book()
    frame, _ = portfolio_risk(weights, vols, returns, realised, LEVELS, corr_window=100)
    runs = {"A": fake_run(1, weights.index), "B": fake_run(2, weights.index)}
    assert set(vol_panel(runs)) == {"ewma", "historical"}
    assert list(vol_panel(runs)["ewma"].columns) == ["A", "B"]
    write_csv(tmp_path / "var.csv", universe_var_table(runs, frame, LEVELS), index=False)
    var = pd.read_csv(tmp_path / "var.csv", parse_dates=["date"])
    assert list(var.columns) == ["date", "asset", "method", "var_95", "var_99", "es_95", "es_99",
                                 "realised", "volatility", "fold"]
    assert list(dict.fromkeys(var["asset"])) == ["A", "B", "portfolio"]
    assert set(universe_var_table(runs, None, LEVELS)["asset"]) == {"A", "B"}  # nothing traded
    mine = var[var["asset"] == "portfolio"]
    assert len(mine) == 3 * len(weights)
    assert (mine["fold"].to_numpy() == np.tile(np.arange(len(weights)) // 30, (3, 1)).T.ravel()).all()
    stored = backtest_table(frame, LEVELS, "portfolio").set_index(["method", "level"])
    assert len(stored) == 6
    for (method, level), got in stored.iterrows():
        part = mine[(mine["method"] == method)].dropna(subset=["realised"]).sort_values("date")
        hits = part["realised"].to_numpy() < -part[f"var_{round(level * 100)}"].to_numpy()
        n, x, p = len(hits), int(hits.sum()), round(1 - level, 12)
        lr = -2 * ((n - x) * math.log(1 - p) + x * math.log(p)
                   - (n - x) * math.log(1 - x / n) - (x * math.log(x / n) if x else 0.0))
        assert got["days"] == n == len(weights) - 1 and got["exceedances"] == x
        assert got["kupiec_p"] == pytest.approx(stats.chi2.sf(lr, 1), rel=1e-9)
    assert stored["exceedances"].sum() > 0
    block = risk_block(mine, backtest_table(mine, LEVELS, "portfolio"), LEVELS)  # the book's metrics
    assert set(block["methods"]) == {"lstm", "ewma", "historical"}
    assert block["comparison"]["var_99"]["best_baseline"] in {"ewma", "historical"}


def test_universe_risk_reuses_a_single_run_and_then_the_whole_cache(make_cfg, caplog):
    from backtests.pipeline.risk import risk_settings, walk_forward_risk
    from backtests.pipeline.universe_risk import universe_risk

    cfg = make_cfg("risk_model.methods=[historical,ewma]")
    settings = risk_settings(cfg)
    assert settings is not None
    markets = {t: source("synthetic", ticker=t, seed=40 + i, bars=420).load() for i, t in enumerate("XYZ")}
    single = walk_forward_risk(cfg, markets["X"], settings)
    tensorflow_before = "tensorflow" in sys.modules
    with caplog.at_level(logging.INFO):
        first = universe_risk(cfg, markets, settings, n_jobs=2)  # Y and Z in worker processes
        again = universe_risk(cfg, markets, settings, n_jobs=2)
    assert [first[t].cached for t in "XYZ"] == [True, False, False]
    assert "1 of 3 from the cache, 2 to compute on 2 process(es)" in caplog.text
    assert "3 of 3 from the cache, 0 to compute" in caplog.text
    assert all(run.cached for run in again.values()) and list(again) == ["X", "Y", "Z"]
    assert tensorflow_before or "tensorflow" not in sys.modules  # the parent never needed it
    pd.testing.assert_frame_equal(single.frame, again["X"].frame, check_exact=True, check_freq=False)
    for ticker in "XYZ":
        assert again[ticker].key == first[ticker].key
        pd.testing.assert_frame_equal(first[ticker].frame, again[ticker].frame, check_exact=True,
                                      check_freq=False)
    assert set(first["Y"].frame["method"]) == {"historical", "ewma"}


def test_contribution_figure_keeps_the_top_names_and_sums_the_rest(tmp_path):
    from backtests.outputs.figures.portfolio_risk import (
        top_shares,
        write_contribution_plot,
        write_portfolio_var_plot,
    )

    weights, vols, returns, realised = random_book(tickers=("A", "B", "C", "D", "E"))
    frame, contributions = portfolio_risk(weights, vols, returns, realised, LEVELS, corr_window=100)
    shares = contribution_shares(contributions, "ewma")
    drawn = top_shares(shares, top=3)
    order = shares.abs().mean().sort_values(ascending=False).index
    assert list(drawn.columns) == [*order[:3], "others"]
    assert drawn["others"].to_numpy() == pytest.approx(shares[order[3:]].sum(axis=1).to_numpy())
    assert drawn.sum(axis=1).to_numpy() == pytest.approx(np.ones(len(shares)))
    latest = contributions[(contributions["method"] == "ewma")
                           & (contributions["date"] == shares.index[-1])].set_index("ticker")
    write_contribution_plot(tmp_path / "contributions.png", shares, latest["contribution"], "book",
                            top=3)
    write_contribution_plot(tmp_path / "shares.png", shares, shares.iloc[-1], "book")  # as shares
    var = universe_var_table({}, frame, LEVELS)
    write_portfolio_var_plot(tmp_path / "portfolio_var.png", var, "book")
    for name in ("contributions.png", "shares.png", "portfolio_var.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
