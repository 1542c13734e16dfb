"""Known answers for the models beside the LSTM (issue 24): LightGBM, GRU, ALSTM, on panels made here.

A planted nonlinear cross-sectional signal: each ticker's next return is the product of two of its
factors (an interaction: neither factor alone says anything, so a linear model cannot see it).
LightGBM and the recurrent networks find it; pooled ridge does not. On pure noise, no model's mean
daily IC is further from 0 than three of its standard errors (daily ICs on noise are independent with
mean 0, so with five models this fails by chance in about 1.5% of seeds; two standard errors would in
about 23%).
"""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest

from forecasting.universe.cross_section import summarise
from forecasting.universe.models import GlobalLSTM, PanelLightGBM, PanelRidge
from forecasting.universe.panel import Panel
from forecasting.universe.walkforward import run_panel
from forecasting.walkforward import WalkForward
from forecasting.windows import Windows
from tests.builders import build, settings

TICKERS, DATES, FACTORS = 16, 360, 3  # factor 3 is a distractor


def planted_panel(signal: float, seed: int) -> Panel:
    """Every ticker-day: three N(0,1) factors; the next return = signal x f1 x f2 + N(0, 1%)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=DATES)
    windows = {}
    for t in range(TICKERS):
        X = rng.standard_normal((DATES, 1, FACTORS)).astype(np.float32)
        y = signal * X[:, 0, 0] * X[:, 0, 1] + 0.01 * rng.standard_normal(DATES)
        windows[f"T{t:02d}"] = Windows(X, y.astype(np.float64), dates)
    return Panel.stack(windows, {name: dates for name in windows})


def walkforward() -> WalkForward:
    """One fit on 260 dates (4160 samples), tested on the next 100 dates."""
    return build("walkforward/default", initial_train=260, retrain_every=100, gap=1, warm_start=False)


def recurrent(cell: str, **changes: object) -> GlobalLSTM:
    values = settings("forecaster/lstm", window=1, units=16, epochs=12, batch_size=128,
                      learning_rate=0.005, patience=5)
    values.update(changes)
    return GlobalLSTM(**values, target="raw", embedding=0, n_tickers=TICKERS, warm_samples=0,
                      val_samples=0, cell=cell)


def models() -> dict[str, object]:
    return {"ridge": PanelRidge(**settings("forecaster/ridge", window=1, target="raw")),
            "lightgbm": PanelLightGBM(**settings("forecaster/lightgbm", window=1), target="raw"),
            "lstm": recurrent("lstm"), "gru": recurrent("gru"), "alstm": recurrent("alstm")}


def ics(panel: Panel) -> dict[str, dict]:
    """Each model's cross-sectional summary over the same out-of-sample days."""
    out = {}
    for name, model in models().items():
        long = run_panel(walkforward(), model, panel, seed=7, progress=False)
        out[name] = summarise(long)
    return out


@pytest.fixture(scope="module")
def planted() -> dict[str, dict]:
    return ics(planted_panel(signal=0.01, seed=1))


@pytest.fixture(scope="module")
def noise() -> dict[str, dict]:
    return ics(planted_panel(signal=0.0, seed=2))


def test_lightgbm_and_the_recurrent_networks_find_a_planted_interaction(planted):
    # An oracle's IC here is about 0.7 (signal and noise of equal variance).
    for name in ("lightgbm", "lstm", "gru", "alstm"):
        assert planted[name]["ic"] > 0.3 and planted[name]["ic_t"] > 10, (name, planted[name]["ic"])
    assert planted["lightgbm"]["days"] == planted["ridge"]["days"] == 100


def test_ridge_cannot_see_an_interaction(planted):
    assert abs(planted["ridge"]["ic"]) < 0.05 and abs(planted["ridge"]["ic_t"]) < 2


@pytest.mark.slow  # a minute more on 2 cores: .ci/run runs it with the other slow checks
def test_on_noise_every_models_ic_is_within_three_standard_errors_of_zero(noise):
    for name, block in noise.items():
        standard_error = block["ic_std"] / math.sqrt(block["days"])
        assert abs(block["ic"]) < 3 * standard_error, (name, block["ic"], standard_error)


@pytest.mark.parametrize("forecaster, features", [
    ("lightgbm_tiny", "alpha158"), ("alstm_tiny", "alpha360"),
    pytest.param("gru_tiny", "default", marks=pytest.mark.slow)])  # the ALSTM's code path, another cell
def test_the_global_universe_model_takes_each_new_forecaster(make_cfg, tmp_path, caplog, forecaster,
                                                             features):
    from backtests.modes.experiment import run_experiment
    from tests.test_universe import TICKERS, universe_cfg, write_market

    folder = write_market(tmp_path / "prices", TICKERS[:3])
    cfg = universe_cfg(make_cfg, folder, "universe.model=global", f"forecaster={forecaster}",
                       f"features={features}", "forecaster.window=1" if features == "alpha158" else
                       "forecaster.window=5")
    caplog.set_level(logging.INFO, logger="backtests.pipeline.universe")
    run_experiment(cfg)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert np.isfinite(metrics["cross_section"]["ic"])
    model = {"lightgbm_tiny": PanelLightGBM, "gru_tiny": GlobalLSTM, "alstm_tiny": GlobalLSTM}
    assert f"global forecasts: {model[forecaster].__name__} on" in caplog.text


def test_a_single_run_with_lightgbm_is_explained_by_permutation(make_cfg, tmp_path):
    from backtests.modes.experiment import run_experiment
    from tests.conftest import EXPLAIN

    run_experiment(make_cfg("forecaster=lightgbm_tiny", EXPLAIN))
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert predictions["forecast"].notna().all() and predictions["forecast"].std() > 0


def test_lightgbm_without_its_package_names_the_install(make_cfg, monkeypatch):
    import importlib.util

    from backtests.errors import UserError
    from backtests.settings.validate import validate

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "lightgbm" else real(name, *a))
    with pytest.raises(UserError) as info:
        validate(make_cfg("forecaster=lightgbm"))
    assert info.value.message == "LightGBMForecaster needs the lightgbm package, which is not installed"
    assert info.value.hint == 'pip install -c constraints.txt -e ".[lightgbm]"'
