"""From market data to out-of-sample forecasts: features, windows, walk-forward, cache."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.data.base import MarketData
from backtests.errors import UserError
from backtests.pipeline.fold_memory import memory_key, recall, remember
from backtests.pipeline.forecast_cache import ForecastCache, forecast_key, settings_hash
from backtests.settings.defaults import shipped
from forecasting.explain import Explanation, FoldExplainer
from forecasting.features import FeatureError
from forecasting.ridge import RidgeForecaster
from forecasting.walkforward import SeriesSamples, WalkForward
from forecasting.windows import Windows, make_windows

log = logging.getLogger(__name__)

FORECAST_GROUPS = ("features", "forecaster", "walkforward")


@dataclass
class ForecastRun:
    """Walk-forward output (forecast, actual, fold, ridge per date) and how it was obtained."""

    predictions: pd.DataFrame
    key: str
    cached: bool
    explanation: Explanation | None = None  # per-fold attributions, when asked for


def forecast_settings(cfg: DictConfig) -> dict:
    """The resolved settings that determine forecasts (the cache key is built from these)."""
    return {group: OmegaConf.to_container(cfg[group], resolve=True) for group in FORECAST_GROUPS}


def explain_tag(cfg: DictConfig) -> str:
    """The tag of cached attributions: a hash of the explain settings (not in the forecasts' key,
    so changing them never invalidates forecasts for runs that do not explain)."""
    return settings_hash(OmegaConf.to_container(cfg.explain, resolve=True), 12)


def build_windows(cfg: DictConfig, market: MarketData, extra: pd.DataFrame | None = None,
                  full_history: bool = True) -> Windows:
    """Past-only features, then windows of `forecaster.window` bars with next-day targets.

    Too short a history is refused before any feature is computed, with the number of bars needed
    counting the features' warm-up; otherwise a feature with no value yet on a short file would be
    blamed for look-ahead. `extra`: columns by date appended to the features (a universe's
    market-wide inputs); rows before all of them have a value are dropped with the warm-up.
    `full_history` False (the global model): a ticker needs only one window after the warm-up, not
    a single run's first training span (stages/markets.py checks that when loading).
    """
    builder = instantiate(cfg.features)
    warmup = feature_warmup(builder)
    if warmup is not None and full_history:
        check_history(cfg, market, warmup)
    try:
        features = builder(market.frame)
    except FeatureError as exc:
        raise UserError(str(exc), "fix or drop that feature under features.columns") from exc
    if extra is not None:
        features = features.join(extra.reindex(features.index))
        features = features.iloc[int(features.notna().all(axis=1).to_numpy().argmax()):]
    if full_history:
        check_history(cfg, market, len(market.frame) - len(features))
    return make_windows(features, market.frame["Close"], int(cfg.forecaster.window))


PROBE_BARS = 2000


def feature_warmup(builder: object) -> int | None:
    """Bars the features need before their first complete row, measured on a synthetic market.

    None when the features cannot be measured that way (a feature that refuses the probe says so
    again, with its own message, when it meets the real data).
    """
    from backtests.data.synthetic import synthetic_bars

    try:
        return PROBE_BARS - len(builder(synthetic_bars(PROBE_BARS, seed=0)))  # type: ignore[operator]
    except (FeatureError, ValueError, KeyError):
        return None


def check_history(cfg: DictConfig, market: MarketData, warmup: int) -> None:
    """Refuse too few bars for warm-up, the first window, the first training span and one fold."""
    window, train = int(cfg.forecaster.window), int(cfg.walkforward.initial_train)
    gap, fold = int(cfg.walkforward.gap), int(cfg.walkforward.retrain_every)
    lead = warmup + window - 1  # bars of history before the first window's date
    if train <= lead:
        raise UserError(
            f"walkforward.initial_train={train} bars leave nothing to train on: {warmup} go to "
            f"the features' warm-up and {window - 1} more to fill the first {window}-bar window",
            f"use walkforward.initial_train of at least {lead + 1} (well above it: the first fit "
            "trains on what remains), or a smaller forecaster.window",
        )
    # The first forecast is at bar initial_train + gap - 1 whatever the window (WalkForward.folds).
    minimum = train + gap - 1 + fold
    if len(market.frame) < minimum:
        skipped = f", {gap - 1} skipped (walkforward.gap)" if gap > 1 else ""
        raise UserError(
            f"{market.ticker} has {len(market.frame)} bars from {market.frame.index[0].date()} "
            f"to {market.frame.index[-1].date()}; the forecaster needs at least {minimum}: "
            f"{train} before the first forecast (walkforward.initial_train: {warmup} for feature "
            f"warm-up, {window - 1} to fill the first {window}-bar window, {train - lead} to "
            f"train){skipped} and {fold} for one test fold (walkforward.retrain_every)",
            "use an earlier data.start or more data, or a smaller walkforward.initial_train "
            "or walkforward.retrain_every",
        )


def walk_forward_forecasts(cfg: DictConfig, market: MarketData, use_cache: bool = True,
                           until: pd.Timestamp | None = None, explain: bool = False) -> ForecastRun:
    """Out-of-sample forecasts for every bar after the first training span (cached by key).

    With `explain`, each fold's model is also explained on its test windows (cfg.explain); the
    attributions are cached beside the forecasts, and a run that finds forecasts but not their
    attributions trains again, since only the walk-forward holds the fold models.
    """
    key = forecast_key(market.fingerprint, forecast_settings(cfg), int(cfg.seed))
    tag = explain_tag(cfg) if explain else None
    cache = ForecastCache(cfg.paths.cache_dir)
    found = cache.lookup(key, tag) if use_cache and until is None else None
    if found is not None:
        cached, stored = found
        return ForecastRun(cached, key, cached=True,
                           explanation=Explanation.from_dict(stored) if stored else None)
    windows = build_windows(cfg, market)
    walkforward: WalkForward = instantiate(cfg.walkforward)
    forecaster = instantiate(cfg.forecaster)
    ridge = RidgeForecaster(**shipped("forecaster", "ridge", window=int(cfg.forecaster.window)))  # baseline
    lead = market.frame.index.get_loc(windows.index[0])  # warm-up and first window's fill
    explainer: FoldExplainer | None = (
        instantiate(cfg.explain, feature_names=list(cfg.features.columns)) if explain else None)
    log.info("forecasts: %s over %d samples, %d folds (%s, retrain every %d bars)",
             type(forecaster).__name__, len(windows), len(walkforward.folds(len(windows), lead)),
             walkforward.mode, walkforward.retrain_every)
    remembered = use_cache and until is None
    memory = memory_key(f"forecasts-explained-{tag}" if tag else "forecasts", market.ticker,
                        forecast_settings(cfg), int(cfg.seed))
    incremental = recall(cfg.paths.cache_dir, memory) if remembered else None
    predictions = walkforward.run(forecaster, windows, seed=int(cfg.seed), baselines={"ridge": ridge},
                                  until=until, lead=lead, explain=explainer, incremental=incremental)
    if incremental is not None:
        remember(cfg.paths.cache_dir, memory, incremental)
    explanation = explainer.explanation if explainer is not None else None
    if explainer is not None and explanation is not None:
        log.info("explain: attributions for %d folds in %.1f s", len(explanation.folds),
                 explainer.seconds)
    if use_cache and until is None:
        cache.keep(key, tag, predictions, explanation.to_dict() if explanation else None,
                   {"ticker": market.ticker, "data": market.fingerprint})
    return ForecastRun(predictions, key, cached=False, explanation=explanation)


def scheduled_outcomes(cfg: DictConfig, market: MarketData) -> ForecastRun:
    """The walk-forward's test rows (actual, fold) without training anything: forecast and ridge
    are NaN. For a strategy that never reads a forecast (uses_forecast False): it is tested on the
    very dates walk_forward_forecasts gives, so a sweep compares every strategy over one period.
    """
    windows = build_windows(cfg, market)
    walkforward: WalkForward = instantiate(cfg.walkforward)
    lead = market.frame.index.get_loc(windows.index[0])
    samples, parts = SeriesSamples(windows, lead), []
    for fold in samples.folds(walkforward):  # the very folds WalkForward.drive walks
        _, test = samples.select(walkforward, fold)
        parts.append(pd.DataFrame({"forecast": float("nan"), "actual": test.y, "fold": fold.number,
                                   "ridge": float("nan")}, index=test.index))
    predictions = pd.concat(parts)
    predictions.index.name = "date"
    log.info("forecasts: none trained, the strategy does not read them; test period %s to %s "
             "(%d bars), as the walk-forward's", predictions.index[0].date(),
             predictions.index[-1].date(), len(predictions))
    return ForecastRun(predictions, key="", cached=False)
