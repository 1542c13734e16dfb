"""Forecasts for a whole universe, in long form (date, ticker, forecast, actual, fold, baselines).

`per_ticker`: each ticker's own walk-forward through `walk_forward_forecasts`, the very call a single
run makes, so both share the forecast cache entry (same data fingerprint, same settings, same key);
cache hits are read here, misses are trained in worker processes (`universe.executor`: joblib's loky
backend or a Dask cluster, pipeline/workers.py; fresh interpreters, so TensorFlow is never forked
and the parent never imports it); with report.explain=true
each ticker's attributions are its single run's, cached beside its forecasts, combined pooled and per
ticker as the global model's are (forecasting/explain/tickers.py). `global`: one LSTM per
fold over every ticker's windows (forecasting/universe/), explained fold by fold when asked
(`global_run(explain=True)`: pooled and per ticker, forecasting/universe/explain.py).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.data.base import MarketData
from backtests.data.membership import Membership
from backtests.data.universe import Universe
from backtests.pipeline.dask_cluster import OwnRead, arrive
from backtests.pipeline.fold_memory import memory_key, recall, remember
from backtests.pipeline.forecast_cache import ForecastCache, forecast_key, settings_hash
from backtests.pipeline.forecasts import (
    ForecastRun,
    build_windows,
    explain_tag,
    forecast_settings,
    walk_forward_forecasts,
)
from backtests.pipeline.workers import Executor, worker_setup
from backtests.settings.defaults import shipped
from forecasting.boosting import Booster
from forecasting.explain import Explanation
from forecasting.explain.tickers import over_tickers
from forecasting.ridge import RidgeForecaster
from forecasting.universe.distribution import GlobalDistributionLSTM
from forecasting.universe.explain import PanelExplainer
from forecasting.universe.market import panel_log_returns
from forecasting.universe.models import GlobalLSTM, PanelLightGBM, PanelRidge
from forecasting.universe.panel import Panel
from forecasting.universe.walkforward import run_panel

log = logging.getLogger(__name__)


def closes_panel(markets: Mapping[str, MarketData]) -> pd.DataFrame:
    """Every ticker's close on the union of their dates (NaN where a ticker has no bar)."""
    return pd.DataFrame({t: m.frame["Close"] for t, m in sorted(markets.items())}).sort_index()


def _worker_cfg(cfg: DictConfig) -> dict:
    """The settings a worker needs to forecast a ticker, resolved (no Hydra runtime in workers)."""
    return {**forecast_settings(cfg), "seed": int(cfg.seed),
            "explain": OmegaConf.to_container(cfg.explain, resolve=True),
            "paths": {"cache_dir": str(cfg.paths.cache_dir)}}


def _forecast_one(settings: dict, market: MarketData | OwnRead, explain: bool,
                  threads: int = 0) -> ForecastRun:
    """One ticker's walk-forward in a worker process (stores it in the shared forecast cache),
    with its attributions when `explain` (the single run's own, cached beside the forecasts)."""
    worker_setup(threads, tensorflow=True)
    return walk_forward_forecasts(OmegaConf.create(settings), arrive(market), explain=explain)


@dataclass
class PerTickerRun:
    """Every ticker's own walk-forward forecasts and, when asked for, their attributions."""

    predictions: dict[str, pd.DataFrame]  # ticker -> its predictions, indexed by date
    keys: dict[str, str]                  # ticker -> its forecast cache key (a single run's)
    trained: int                          # tickers trained here rather than read from the cache
    explanation: Explanation | None = None  # groups "all" (pooled by refit date) and per ticker


def per_ticker_forecasts(cfg: DictConfig, markets: Mapping[str, MarketData], n_jobs: int,
                         explain: bool = False) -> PerTickerRun:
    """Each ticker's walk-forward, read from the forecast cache or trained in worker processes.

    With `explain` a ticker counts as cached only with its attributions under these explain
    settings (the entries a single run with report.explain on stores); each ticker's are its
    single run's, combined into the global model's shape (`forecasting.explain.tickers`).
    """
    settings = _worker_cfg(cfg)
    cache = ForecastCache(cfg.paths.cache_dir)
    tag = explain_tag(cfg) if explain else None
    keys = {t: forecast_key(m.fingerprint, forecast_settings(cfg), int(cfg.seed)) for t, m in markets.items()}
    result: dict[str, pd.DataFrame] = {}
    explanations: dict[str, Explanation] = {}
    for ticker, key in keys.items():
        frame = cache.peek(key)
        stored = cache.load_explanation(key, tag) if frame is not None and tag else None
        if frame is not None and (tag is None or stored is not None):
            result[ticker] = frame
            if stored is not None:
                explanations[ticker] = Explanation.from_dict(stored)
    missing = sorted(t for t in markets if t not in result)
    log.info("per-ticker forecasts: %d of %d from the cache, %d to train on %d process(es)",
             len(result), len(markets), len(missing), min(n_jobs, max(1, len(missing))))
    executor = Executor.of(cfg, n_jobs)
    runs = executor.map(_forecast_one, [(settings, executor.ship(markets[t]), explain) for t in missing],
                        "forecasts")
    for ticker, run in zip(missing, runs, strict=True):
        result[ticker] = run.predictions
        if run.explanation is not None:
            explanations[ticker] = run.explanation
    return PerTickerRun({t: result[t] for t in sorted(markets)}, keys, len(missing),
                        over_tickers(explanations) if explain else None)


def member_closes(universe: Universe, markets: Mapping[str, MarketData]) -> pd.DataFrame:
    """Every ticker's close, NaN where it was not a member that day (no membership: every close).

    A ticker with several spells gets one column per spell (`T#1`, `T#2`): a return is never
    taken from its last close before leaving to its first after rejoining.
    """
    closes = closes_panel(markets)
    membership = universe.membership
    if membership is None:
        return closes
    columns = {}
    for ticker in closes.columns:
        spells = membership.spells.get(str(ticker), ())
        for number, spell in enumerate(spells, start=1):
            name = ticker if len(spells) == 1 else f"{ticker}#{number}"
            columns[name] = closes[ticker].where(spell.covers(closes.index))
    return pd.DataFrame(columns, index=closes.index)


def market_inputs(universe: Universe, markets: Mapping[str, MarketData]) -> pd.DataFrame | None:
    """The market-wide input columns by date (each value from the closes of that date's members
    up to that date), or None."""
    if universe.market_input is None:
        return None
    feature = universe.market_input
    return feature(member_closes(universe, markets)).rename("market").to_frame()


def build_panel(cfg: DictConfig, universe: Universe, markets: Mapping[str, MarketData]) -> Panel:
    """Every ticker's windows (its own features plus the market inputs) stacked into one panel;
    with membership, each sample marked with whether its ticker was a member on its date."""
    extra = market_inputs(universe, markets)
    windows = {t: build_windows(cfg, m, extra, full_history=False) for t, m in markets.items()}
    panel = Panel.stack(windows, {t: m.frame.index for t, m in markets.items()})
    membership = universe.membership
    if membership is None:
        return panel
    return panel.with_members(membership.mask(panel.calendar, panel.tickers).to_numpy())


DISTRIBUTION_ONLY = ("horizons", "warm_samples")  # a distribution forecaster's settings of its own


def global_model(cfg: DictConfig, universe: Universe, n_tickers: int) -> Any:
    """The global forecaster the `forecaster` group describes: the LSTM (its GRU or ALSTM
    sibling: the class's `cell`), pooled LightGBM, or pooled ridge.

    A distribution forecaster (forecaster=lstm_dist, the default) lends it its network's
    settings, not its horizons or its warm-fold sample (the universe's own `warm_samples` sets
    that): with the raw target the global model then forecasts the 1-session distribution too
    (`forecasts_distribution`), the risk stage's `lstm` input; strategies that read the
    distributions of every horizon are refused with the global model before any data is read
    (settings/combinations.py)."""
    resolved = OmegaConf.to_container(cfg.forecaster, resolve=True)
    assert isinstance(resolved, dict)
    settings: dict[str, Any] = {str(k): v for k, v in resolved.items()
                                if not str(k).startswith("_") and k not in DISTRIBUTION_ONLY}
    single = get_class(str(cfg.forecaster._target_))
    if issubclass(single, RidgeForecaster):
        return PanelRidge(target=universe.target, **settings)
    if issubclass(single, Booster):
        return PanelLightGBM(target=universe.target, **settings)
    settings["batch_size"] = universe.batch_size
    model = GlobalDistributionLSTM if forecasts_distribution(cfg) else GlobalLSTM
    return model(target=universe.target, embedding=universe.embedding, n_tickers=n_tickers,
                 warm_samples=universe.warm_samples, val_samples=universe.val_samples,
                 cell=getattr(single, "cell", "lstm"), **settings)


def forecasts_distribution(cfg: DictConfig) -> bool:
    """Whether the global model forecasts each ticker's 1-session Student-t beside its point
    (a distribution forecaster and the raw target: forecasting/universe/distribution.py), which
    the `lstm` risk method then reads instead of training a risk network per ticker."""
    single = get_class(str(cfg.forecaster._target_))
    return hasattr(single, "distribution_columns") and cfg.universe.target == "raw"


@dataclass
class GlobalRun:
    """The global model's long-form forecasts and, when asked for, their attributions."""

    predictions: pd.DataFrame
    explanation: Explanation | None = None  # groups "all" (pooled) and one per ticker
    explain_seconds: float = 0.0            # time spent explaining, inside the walk-forward
    key: str = ""                           # the forecast cache key
    cached: bool = False                    # read from the cache: nothing was trained


def explains_universe(cfg: DictConfig) -> bool:
    """Whether a universe run (global or per-ticker) explains its folds: only with report.explain=true.

    report.explain's default (null) is on for single runs and off here: the attributions cost
    a universe far more than the 25% issue 14 allows for a default (README, "Why the model says
    what it says"), so a universe run explains only when asked with report.explain=true.
    """
    return cfg.report.get("explain") is True


def _model_settings(cfg: DictConfig) -> dict[str, Any]:
    """The universe settings that can change a global forecast (not its name, the fan-out, the
    spread's quantile; the members are part of the data)."""
    universe = OmegaConf.to_container(cfg.universe, resolve=True)
    assert isinstance(universe, dict)
    return {str(k): v for k, v in universe.items()
            if k not in ("name", "tickers", "n_jobs", "spread_quantile", "as_of", "file", "survivors",
                         "executor", "dask")}


def global_key(cfg: DictConfig, markets: Mapping[str, MarketData]) -> str:
    """The forecast cache key of a global run: every ticker's data and every setting of the model.

    The universe settings that cannot change a forecast (its name, the fan-out, the spread's
    quantile) are left out; the members are in the data part, `as_of` through the data it chose,
    a membership file through its spells (not its path).
    """
    model = _model_settings(cfg)
    prices: dict[str, str] = {t: m.fingerprint for t, m in sorted(markets.items())}
    membership = instantiate(cfg.universe).membership  # who trains when: part of the data
    data = settings_hash({**prices, "membership": membership.digest()} if membership else prices)
    if forecasts_distribution(cfg):  # the 1-session heads: other forecasts than the point model's
        model["heads"] = "mean_variance_h1"
    return forecast_key(data, {**forecast_settings(cfg), "universe": model}, int(cfg.seed))


def global_run(cfg: DictConfig, universe: Universe, markets: Mapping[str, MarketData],
               until: pd.Timestamp | None = None, progress: bool = True,
               explain: bool = False, use_cache: bool = True) -> GlobalRun:
    """Long-form forecasts of the global model, the pooled ridge baseline beside them, and with
    `explain` each fold's attributions (the `explain` group's settings; cfg.explain).

    Whole runs go through the forecast cache as single tickers' do (same entries, same lock, the
    attributions beside them): a rerun with the same data and model settings trains nothing.
    On grown or revised data the fold memory (pipeline/fold_memory.py, keyed by the settings and
    the tickers, not the data) reuses every fold whose inputs are unchanged, as for one ticker;
    not when explaining (the attributions of reused folds are not kept).
    The audit computes its baseline afresh (`use_cache` False), as it does for one ticker.
    """
    key = global_key(cfg, markets)
    tag = explain_tag(cfg) if explain else None
    cache = ForecastCache(cfg.paths.cache_dir)
    found = cache.lookup(key, tag, "global forecasts") if use_cache and until is None else None
    if found is not None:
        cached, stored = found
        return GlobalRun(cached.reset_index(), Explanation.from_dict(stored) if stored else None,
                         key=key, cached=True)
    panel = build_panel(cfg, universe, markets)
    walkforward = instantiate(cfg.walkforward)
    model = global_model(cfg, universe, len(panel.tickers))
    ridge = PanelRidge(**shipped("forecaster", "ridge", window=cfg.forecaster.window, target=universe.target))
    names = [*map(str, cfg.features.columns), *(["market"] if universe.market_input is not None else [])]
    explainer = PanelExplainer(instantiate(cfg.explain, feature_names=names)) if explain else None
    log.info("global forecasts: %s on %d samples of %d tickers over %d dates (target %s)",
             type(model).__name__, len(panel), len(panel.tickers), len(panel.calendar),
             universe.target)
    remembered = use_cache and until is None and explainer is None
    memory = memory_key("global", ",".join(panel.tickers),
                        {**forecast_settings(cfg), "universe": _model_settings(cfg)}, int(cfg.seed))
    incremental = recall(cfg.paths.cache_dir, memory) if remembered else None
    predictions = run_panel(walkforward, model, panel, seed=int(cfg.seed), baselines={"ridge": ridge},
                            until=until, progress=progress, explain=explainer,
                            incremental=incremental)
    if incremental is not None:
        remember(cfg.paths.cache_dir, memory, incremental)
    run = GlobalRun(predictions, key=key)
    if explainer is not None:
        log.info("explain: %d fold records in %.1f s (pooled %.1f s, per ticker %.1f s)",
                 len(explainer.explanation.folds) if explainer.explanation else 0, explainer.seconds,
                 explainer.pooled.seconds, explainer.per_ticker.seconds)
        run = GlobalRun(predictions, explainer.explanation, explainer.seconds, key)
    if use_cache and until is None:
        cache.keep(key, tag, predictions.set_index("date"),
                   run.explanation.to_dict() if run.explanation else None,
                   {"tickers": sorted(markets), "model": "global"})
    return run


def long_form(per_ticker: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-ticker prediction tables (indexed by date) as one long table sorted by date, ticker."""
    parts = [frame.reset_index().assign(ticker=t) for t, frame in per_ticker.items()]
    long = pd.concat(parts, ignore_index=True)
    return long.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)


def finish_long(long: pd.DataFrame, markets: Mapping[str, MarketData],
                membership: Membership | None = None) -> pd.DataFrame:
    """predictions.csv's columns: date, ticker, forecast, actual, fold, ridge, reversal, drift, scored.

    Two naive cross-sectional rules, each known at the close of the forecast date: `reversal`,
    minus today's log return (short-term reversal), and `drift`, the ticker's mean daily log return
    from its first loaded bar to today (tickers that rose keep rising: in today's survivors run back
    in time, that alone ranks tomorrow's returns a little). `scored` is 0 where the next-day return
    spans a gap in the data: such rows are kept but left out of every score. With `membership`,
    only the rows of a ticker on the dates it was a member are kept.
    """
    if membership is not None:
        long = membership.keep(long)
    panel = panel_log_returns(closes_panel(markets))
    returns = panel.stack().rename("today")
    drift = panel.expanding().mean().where(panel.notna()).stack()
    keyed = long.set_index(["date", "ticker"])
    keyed["reversal"] = -returns.reindex(keyed.index).to_numpy()
    keyed["drift"] = drift.reindex(keyed.index).to_numpy()
    unscored = {(d, t) for t, m in markets.items() for d in m.unscored}
    keyed["scored"] = [0 if k in unscored else 1 for k in keyed.index]
    keyed["fold"] = keyed["fold"].astype(int)
    columns = ["forecast", "actual", "fold", "ridge", "reversal", "drift", "scored"]
    return keyed[columns].reset_index()

