"""universe.executor=dask: per-ticker work on a real 2-worker LocalCluster gives loky's answers.

The workers read their own prices (an OwnRead note travels, never a price table or a model) and
write the forecast cache themselves; the parent reads back only the forecast tables.
"""
from __future__ import annotations

import logging

import pandas as pd
import pytest
from omegaconf import open_dict

from backtests.errors import UserError
from backtests.pipeline.dask_cluster import DaskSettings, OwnRead, check_reachable
from backtests.pipeline.forecast_cache import ForecastCache
from backtests.pipeline.risk import risk_settings
from backtests.pipeline.universe import per_ticker_forecasts
from backtests.pipeline.universe_risk import universe_risk
from backtests.pipeline.workers import Executor
from backtests.stages.markets import load_markets
from tests.conftest import RISK_LSTM

pytest.importorskip("distributed", reason="the [dask] extra: pip install -e '.[dask]'")

TICKERS = "[AAA,BBB,CCC]"


def _cfg(make_cfg, tmp_path, executor: str, cache: str):
    cfg = make_cfg(f"universe.tickers={TICKERS}", "universe.model=per_ticker", "universe.n_jobs=2",
                   f"universe.executor={executor}", RISK_LSTM, "risk_model.lstm_epochs=1")
    with open_dict(cfg):
        cfg.paths.cache_dir = str(tmp_path / cache)
    return cfg


@pytest.mark.slow  # a real LocalCluster: .ci/run's slow step runs it
def test_a_local_dask_cluster_gives_the_forecasts_and_risk_forecasts_loky_gives(make_cfg, tmp_path,
                                                                                 caplog):
    made = {}
    for executor in ("loky", "dask"):
        cfg = _cfg(make_cfg, tmp_path, executor, f"cache-{executor}")
        loaded = load_markets(cfg)
        settings = risk_settings(cfg)
        assert settings is not None
        with caplog.at_level(logging.INFO):
            forecasts = per_ticker_forecasts(cfg, loaded.markets, 2)
            risk = universe_risk(cfg, loaded.markets, settings, 2)
        made[executor] = forecasts, risk, cfg
    assert "forecasts: 3 jobs on Dask (LocalCluster of 2)" in caplog.text
    assert "risk forecasts: 3 jobs on Dask (LocalCluster of 2)" in caplog.text
    (loky, loky_risk, _), (dask, dask_risk, cfg) = made["loky"], made["dask"]
    assert dask.trained == loky.trained == 3 and dask.keys == loky.keys  # same data, same keys
    for ticker in ("AAA", "BBB", "CCC"):
        pd.testing.assert_frame_equal(dask.predictions[ticker], loky.predictions[ticker], check_exact=True)
        pd.testing.assert_frame_equal(dask_risk[ticker].frame, loky_risk[ticker].frame, check_exact=True)
        assert set(dask_risk[ticker].frame["method"]) == {"lstm", "historical", "ewma", "garch"}
        # the Dask workers wrote the cache themselves: a rerun here trains nothing
        assert ForecastCache(cfg.paths.cache_dir).peek(dask.keys[ticker]) is not None
    again = per_ticker_forecasts(cfg, load_markets(cfg).markets, 2)
    assert again.trained == 0


def test_a_dask_job_carries_a_note_and_the_worker_reads_the_same_prices(make_cfg, tmp_path):
    cfg = _cfg(make_cfg, tmp_path, "dask", "cache")
    market = load_markets(cfg).markets["BBB"]
    note = Executor.of(cfg).ship(market)
    assert isinstance(note, OwnRead) and note.ticker == "BBB"
    pd.testing.assert_frame_equal(note.load().frame, market.frame, check_exact=True)
    loky = Executor.of(_cfg(make_cfg, tmp_path, "loky", "cache"))
    assert loky.ship(market) is market  # one machine: the prices themselves
    with open_dict(cfg):
        cfg.data.seed = int(cfg.data.seed) + 1  # a worker that would see other data
    changed = Executor.of(cfg).ship(market)
    assert isinstance(changed, OwnRead)
    with pytest.raises(UserError, match="the prices a Dask worker read differ"):
        changed.load()


def test_a_bad_dask_address_is_refused_with_a_hint():
    with pytest.raises(UserError, match="is not a Dask scheduler address") as bad:
        DaskSettings(address="10.0.0.5:8786")
    assert bad.value.hint is not None and "tcp://" in bad.value.hint
    assert DaskSettings(address="tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"
    check_reachable(None)  # a LocalCluster needs only the packages


@pytest.mark.slow  # two network fits beside a thread drawing random numbers: .ci/run's slow step runs it
def test_a_fresh_fit_is_the_same_while_another_thread_draws_from_pythons_random():
    """A Dask worker's event loop draws from `random` while a task trains: the weights must not move."""
    import random
    import threading

    import numpy as np

    from forecasting.tf_import import import_keras
    from forecasting.training import Schedule, fit_network

    keras = import_keras()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=64).astype("float32")

    def build():
        model = keras.Sequential([keras.Input((6,)), *[keras.layers.Dense(8) for _ in range(6)],
                                  keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        return model

    def weights() -> list:
        schedule = Schedule(epochs=1, warm_epochs=1, batch_size=32, patience=1)
        return fit_network(None, build, X, y, None, seed=5, resume=False, schedule=schedule).get_weights()

    quiet, stop = weights(), threading.Event()

    def draw() -> None:
        while not stop.is_set():
            random.random()

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        busy = [weights() for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    for run in busy:
        assert all(np.array_equal(a, b) for a, b in zip(quiet, run, strict=True))
