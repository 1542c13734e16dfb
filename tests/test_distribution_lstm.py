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
