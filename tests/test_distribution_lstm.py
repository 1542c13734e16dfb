"""The distribution LSTM on markets whose answers are known: a GARCH market's conditional variance,
a 5-session return planted in a feature the 1-session target cannot see, and i.i.d. noise."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.distribution.baselines import build_baselines
from forecasting.distribution.lstm import DistributionLSTM
from forecasting.distribution.scores import score_distributions
from forecasting.distribution.walkforward import model_distributions, run_distributions, with_outcomes
from forecasting.windows import Windows
from tests.builders import build

NETWORK = dict(window=20, units=8, layers=1, dropout=0.0, epochs=20, warm_epochs=2, batch_size=128,
               learning_rate=3e-3, patience=4, warm_samples=512)


def garch_returns(n: int, seed: int) -> np.ndarray:
    """GARCH(1,1) with Gaussian shocks: persistence 0.98, daily volatility ~1%."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 0.02e-4, 0.10, 0.88
    var, out = omega / (1 - alpha - beta), np.empty(n)
    for t in range(n):
        out[t] = np.sqrt(var) * rng.standard_normal()
        var = omega + alpha * out[t] ** 2 + beta * var
    return out


def windows_of(returns: np.ndarray, window: int, extra: np.ndarray | None = None) -> Windows:
    """Windows of (return, |return|[, extra]) up to each date; the target is the next return."""
    columns = [returns, np.abs(returns)] + ([extra] if extra is not None else [])
    features = np.column_stack(columns)
    X = np.stack([features[i - window + 1:i + 1] for i in range(window - 1, len(returns))])
    y = np.append(returns[window:], np.nan)
    index = pd.bdate_range("2000-01-03", periods=len(returns))[window - 1:]
    return Windows(X.astype(np.float32), y, pd.DatetimeIndex(index))


def scored(windows: Windows, horizons: list[int], baselines: list[str],
           **network) -> tuple[pd.DataFrame, dict]:
    walk = build("walkforward/default", initial_train=1500, retrain_every=500, val_fraction=0.2)
    model = DistributionLSTM(horizons=horizons, **{**NETWORK, **network})
    made = model_distributions(walk.run(model, windows, seed=0, progress=False))
    others = run_distributions(walk, build_baselines(baselines, 250, 0.94), windows, model.horizons,
                               seed=0)
    frame = with_outcomes(pd.concat([made, others]), pd.Series(windows.y, index=windows.index))
    frame = frame.reset_index()
    return frame, score_distributions(frame)


def test_on_a_garch_market_the_interval_covers_nominally_and_beats_climatology():
    _, scores = scored(windows_of(garch_returns(3000, seed=1), 20), [1], ["climatology", "garch"])
    lstm = scores["h1"]["methods"]
    assert abs(lstm["lstm"]["coverage"]["90"]["rate"] - 0.9) < 0.03
    assert lstm["lstm"]["coverage"]["90"]["p"] > 0.01  # within sampling error of nominal
    assert lstm["lstm"]["crps"] < lstm["climatology"]["crps"]  # it learned the conditional variance
    assert lstm["garch"]["crps"] <= lstm["lstm"]["crps"] * 1.02  # the true model is hard to beat


def test_a_five_session_signal_is_found_at_five_sessions_and_not_credited_to_one():
    rng = np.random.default_rng(2)
    signal = rng.standard_normal(3000)
    returns = 0.01 * rng.standard_normal(3000)
    returns[5:] += 0.006 * signal[:-5]  # the return 5 sessions after t carries the signal of t
    # a 3-bar window cannot see the signal 4 bars back that moves tomorrow's return
    frame, scores = scored(windows_of(returns, 3, signal), [1, 5], ["climatology"], window=3)
    lstm = frame[frame["method"] == "lstm"].dropna(subset=["realised"])
    corr = {h: np.corrcoef(part["mean"], part["realised"])[0, 1]
            for h, part in lstm.groupby("horizon")}
    assert corr[5] > 0.2 and abs(corr[1]) < 0.1
    assert scores["h5"]["comparison"]["dm_pvalue"] < 0.01
    assert scores["h5"]["comparison"]["crps_ratio"] < 0.98
    assert "no skill in direction" in scores["h1"]["verdict"]
    assert scores["h1"]["comparison"]["dm_pvalue"] > 0.05


def test_on_iid_noise_p_up_is_calibrated_and_no_better_than_climatology():
    returns = 0.01 * np.random.default_rng(3).standard_normal(3000)
    frame, scores = scored(windows_of(returns, 20), [1, 5], ["climatology"])
    for h in ("h1", "h5"):
        assert scores[h]["verdict"].endswith("no skill in direction.")
    one = frame[(frame["method"] == "lstm") & (frame["horizon"] == 1)].dropna(subset=["realised"])
    from forecasting.distribution.base import p_up

    forecast = p_up(one).to_numpy()
    assert abs(forecast.mean() - (one["realised"] > 0).mean()) < 0.03  # calibrated on average
    assert forecast.std() < 0.05  # it does not pretend to know the direction


@pytest.mark.parametrize("horizon", [5, 20])
def test_an_h_session_target_is_purged_until_known(horizon):
    """The last h - 1 training samples have no h-session target: it runs past the window."""
    model = DistributionLSTM(horizons=[horizon], **NETWORK)
    windows = windows_of(np.linspace(-0.01, 0.01, 60), 5)
    targets = model.targets(windows[:-1])
    assert np.isnan(targets[-(horizon - 1):, 1]).all() and np.isfinite(targets[:-(horizon - 1), 1]).all()
    np.testing.assert_allclose(targets[0, 1], windows.y[:horizon].sum())


def garch_t_returns(n: int, seed: int, df: float = 5.0) -> np.ndarray:
    """GARCH(1,1) with unit-variance Student-t shocks: clustered volatility and fat tails."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 0.02e-4, 0.10, 0.88
    shocks = rng.standard_t(df, n) * np.sqrt((df - 2) / df)
    var, out = omega / (1 - alpha - beta), np.empty(n)
    for t in range(n):
        out[t] = np.sqrt(var) * shocks[t]
        var = omega + alpha * out[t] ** 2 + beta * var
    return out


def blind_windows(returns: np.ndarray, window: int, seed: int) -> Windows:
    """Windows of noise features only: the network cannot see the volatility coming, so any
    reaction to a shock must come from the scale's update by the residuals."""
    features = np.random.default_rng(seed).standard_normal((len(returns), 2))
    X = np.stack([features[i - window + 1:i + 1] for i in range(window - 1, len(returns))])
    y = np.append(returns[window:], np.nan)
    index = pd.bdate_range("2000-01-03", periods=len(returns))[window - 1:]
    return Windows(X.astype(np.float32), y, pd.DatetimeIndex(index))


def test_on_a_garch_t_market_the_lstm_var_is_exceeded_at_its_nominal_rate_without_clusters():
    """The `lstm` risk method's 99% and 95% VaR pass Kupiec and Christoffersen on a GARCH-t
    market whose volatility the network's inputs do not show. Without the 1-session scale's
    update by the residuals its scale is nearly constant and the exceedances cluster."""
    from forecasting.risk.distributions import column
    from forecasting.risk.evaluation import christoffersen_conditional, kupiec
    from forecasting.risk.from_distribution import DistributionRisk

    windows = blind_windows(garch_t_returns(4000, seed=5), 5, seed=6)
    walk = build("walkforward/default", initial_train=1500, retrain_every=250, val_fraction=0.2)
    model = DistributionLSTM(horizons=[1], **{**NETWORK, "window": 5})
    forecasts = walk.run(model, windows, seed=0, progress=False)
    test = windows[-len(forecasts):]
    assert (test.index == forecasts.index).all()
    risk = DistributionRisk(forecasts).predict_risk(test, test.y, [0.95, 0.99])
    realised = test.y[:-1]
    for level in (0.95, 0.99):
        hits = realised < -risk[column("var", level)].to_numpy()[:-1]
        tail = round(1 - level, 12)
        assert abs(hits.mean() - tail) < 3 * np.sqrt(tail * (1 - tail) / len(hits))
        assert kupiec(hits, tail)[1] >= 0.05
        assert christoffersen_conditional(hits, tail)[1] >= 0.05


def test_the_one_session_scale_rises_after_a_large_error_and_reads_no_later_return():
    windows = blind_windows(garch_t_returns(1800, seed=7), 5, seed=8)
    walk = build("walkforward/default", initial_train=1500, retrain_every=250, val_fraction=0.2)
    model = DistributionLSTM(horizons=[1, 5], **{**NETWORK, "window": 5})
    train, held = walk.split_validation(windows[:1500], warm=False)
    model.fit(train, seed=0, validation=held)
    assert model.update.weight > 0  # the residuals cluster: the fold keeps the filter
    test = windows[1500:1540]
    before = model.distribution_columns(test)
    shocked = test.y.copy()
    shocked[10] = -0.15  # a crash on the 11th day, known at the 12th day's close
    after = model.distribution_columns(Windows(test.X, shocked, test.index))
    np.testing.assert_array_equal(after["scale_h1"].to_numpy()[:11], before["scale_h1"].to_numpy()[:11])
    assert after["scale_h1"].iloc[11] > 1.5 * before["scale_h1"].iloc[11]
    np.testing.assert_array_equal(after["scale_h5"].to_numpy(), before["scale_h5"].to_numpy())
    np.testing.assert_array_equal(after["forecast"].to_numpy(), before["forecast"].to_numpy())
