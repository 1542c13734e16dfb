"""The walk-forward never trains on what it predicts, and features only look back."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate

from backtests.data.synthetic import synthetic_bars
from forecasting.ridge import RidgeForecaster
from forecasting.windows import make_windows
from tests.builders import build, settings, source


def test_features_use_only_the_past(make_cfg):
    frame = synthetic_bars(400, seed=1)
    builder = instantiate(make_cfg().features)
    cut = frame.index[300]
    altered = frame.copy()
    altered.loc[altered.index > cut, ["Open", "High", "Low", "Close"]] *= 1.7
    altered.loc[altered.index > cut, "Volume"] *= 0.2
    before, after = builder(frame), builder(altered)
    pd.testing.assert_frame_equal(before.loc[:cut], after.loc[:cut])
    assert not before.loc[cut:].iloc[1:].equals(after.loc[cut:].iloc[1:])


class _Recorder(RidgeForecaster):
    """Ridge that remembers the dates it trained on and the dates it predicted."""

    def __init__(self) -> None:
        super().__init__(**settings("forecaster/ridge", window=5))
        self.trained: list[pd.DatetimeIndex] = []
        self.predicted: list[pd.DatetimeIndex] = []

    def fit(self, train, seed=0, warm_start=False, validation=None):
        seen = train.labelled.index
        if validation is not None:  # the held-out tail is training data too: it steers the fit
            assert validation.index.min() > seen.max()
            seen = seen.append(validation.labelled.index)
        self.trained.append(seen)
        return super().fit(train, seed, warm_start, validation)

    def predict(self, windows):
        self.predicted.append(windows.index)
        return super().predict(windows)


def test_walk_forward_never_trains_on_a_bar_it_predicts(make_cfg):
    frame = synthetic_bars(330, seed=2)
    features = instantiate(make_cfg().features)(frame)
    windows = make_windows(features, frame["Close"], 5)
    recorder = _Recorder()
    walk = build("walkforward/default", initial_train=100, retrain_every=40, gap=1)
    out = walk.run(recorder, windows, seed=0, progress=False)
    assert len(recorder.trained) == len(recorder.predicted) == len(set(out["fold"]))
    for trained, predicted in zip(recorder.trained, recorder.predicted):
        assert trained.max() < predicted.min()  # a sample's target ends the next bar: gap of 1
        # the last training target (return to the next close) is known at the first predicted close
        assert windows.index.get_loc(predicted.min()) - windows.index.get_loc(trained.max()) >= 1
    assert out.index.is_unique and out.index[0] == windows.index[100]
    assert np.isnan(out["actual"].iloc[-1])  # the newest bar's outcome is not known yet
    assert out["forecast"].notna().all()


def test_target_is_the_next_close_to_close_log_return():
    frame = synthetic_bars(60, seed=5)
    features = pd.DataFrame({"x": np.arange(60.0)}, index=frame.index)
    windows = make_windows(features, frame["Close"], 3)
    i = 10
    date = windows.index[i]
    expected = np.log(frame["Close"].shift(-1) / frame["Close"]).loc[date]
    assert windows.y[i] == pytest.approx(expected)
    assert windows.X[i, -1, 0] == features.loc[date, "x"]  # the window ends at its own date


def test_a_forecaster_that_does_not_early_stop_trains_on_the_whole_window(make_cfg):
    frame = synthetic_bars(400, seed=3)
    windows = make_windows(instantiate(make_cfg().features)(frame), frame["Close"], 5)
    out = build("walkforward/default", initial_train=150, retrain_every=50, val_fraction=0.2).run(
        build("forecaster/ridge", window=5), windows, seed=0,
        baselines={"ridge": build("forecaster/ridge", window=5)}, progress=False)
    # The traded ridge and the ridge baseline see the same training window: one forecast.
    np.testing.assert_array_equal(out["forecast"].to_numpy(), out["ridge"].to_numpy())


@pytest.mark.parametrize("change", [["forecaster.window=20"], ["~features.columns.macd"]])
def test_the_first_forecast_date_does_not_move_with_the_window_or_features(make_cfg, change):
    from backtests.pipeline.forecasts import walk_forward_forecasts

    market = source("synthetic", ticker="SYN", seed=4, bars=420).load()
    base = walk_forward_forecasts(make_cfg("forecaster=ridge", "forecaster.window=10"), market,
                                  use_cache=False).predictions
    other = walk_forward_forecasts(make_cfg("forecaster=ridge", "forecaster.window=10", *change),
                                   market, use_cache=False).predictions
    assert other.index.equals(base.index)
    assert base.index[0] == market.frame.index[200]  # walkforward.initial_train=200 bars


def test_progress_is_logged_every_few_folds(make_cfg, caplog):
    import logging

    frame = synthetic_bars(500, seed=3)
    windows = make_windows(instantiate(make_cfg().features)(frame), frame["Close"], 5)
    with caplog.at_level(logging.INFO, logger="forecasting.walkforward"):
        build("walkforward/default", initial_train=100, retrain_every=20).run(
            build("forecaster/ridge", window=5), windows, seed=0)
    lines = [r.getMessage() for r in caplog.records if "folds done" in r.getMessage()]
    assert len(lines) == 9 and lines[0].startswith("walk-forward: 2/19 folds done")
    assert all("elapsed" in line and "left" in line for line in lines)


def test_a_panel_of_one_ticker_is_walked_exactly_as_the_single_series(make_cfg):
    """One loop, two kinds of samples: a one-ticker panel trains and predicts the same dates."""
    from forecasting.universe.panel import Panel
    from forecasting.universe.walkforward import PanelSamples
    from forecasting.walkforward import SeriesSamples

    frame = synthetic_bars(420, seed=3)
    features = instantiate(make_cfg().features)(frame)
    windows = make_windows(features, frame["Close"], window=5)
    lead = frame.index.get_loc(windows.index[0])
    panel = Panel.stack({"ONE": windows}, {"ONE": frame.index})
    walk = build("walkforward/default", initial_train=200, retrain_every=60, val_fraction=0.2)
    series, stacked = SeriesSamples(windows, lead), PanelSamples(panel)
    folds = series.folds(walk)
    assert len(folds) == len(stacked.folds(walk)) > 2
    for fold, panel_fold in zip(folds, stacked.folds(walk), strict=True):
        train, test = series.select(walk, fold)
        p_train, p_test = stacked.select(walk, panel_fold)
        assert (panel.dates[p_test] == test.index).all()
        assert (panel.dates[p_train] == train.labelled.index).all()
        for warm in (False, True):
            fit, held = series.hold_out(walk, train, warm, True)
            p_fit, p_held = stacked.hold_out(walk, p_train, warm, True)
            assert (panel.dates[p_fit] == fit.labelled.index).all()
            assert (held is None) == (p_held is None)
            if held is not None and p_held is not None:
                assert (panel.dates[p_held] == held.labelled.index).all()
