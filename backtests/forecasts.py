"""From market data to out-of-sample forecasts: features, windows, walk-forward, cache."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.data.base import MarketData
from backtests.errors import UserError
from backtests.forecast_cache import ForecastCache, forecast_key, settings_hash
from forecasting.explain import Explanation, FoldExplainer
from forecasting.features import FeatureError
from forecasting.ridge import RidgeForecaster
from forecasting.walkforward import WalkForward
from forecasting.windows import Windows, make_windows

log = logging.getLogger(__name__)

FORECAST_GROUPS = ("features", "forecaster", "walkforward")


@dataclass
class ForecastRun:
    """Walk-forward output (forecast, actual, fold, baseline per date) and how it was obtained."""

    predictions: pd.DataFrame
    key: str
    cached: bool
    explanation: Explanation | None = None  # per-fold attributions, when asked for


def forecast_settings(cfg: DictConfig) -> dict:
    """The resolved settings that determine forecasts (the cache key is built from these)."""
    return {group: OmegaConf.to_container(cfg[group], resolve=True) for group in FORECAST_GROUPS}


def build_windows(cfg: DictConfig, market: MarketData) -> Windows:
    """Past-only features, then windows of `forecaster.window` bars with next-day targets."""
    try:
        features = instantiate(cfg.features)(market.frame)
    except FeatureError as exc:
        raise UserError(str(exc), "fix or drop that feature under features.columns") from exc
    window, train = int(cfg.forecaster.window), int(cfg.walkforward.initial_train)
    gap, fold = int(cfg.walkforward.gap), int(cfg.walkforward.retrain_every)
    # Checked before make_windows, which cannot cut windows from fewer rows than one window.
    samples = max(0, len(features) - window + 1)
    if samples < train + gap - 1 + fold:
        warmup = len(market.frame) - len(features)
        minimum = warmup + window - 1 + train + gap - 1 + fold
        skipped = f", {gap - 1} skipped (walkforward.gap)" if gap > 1 else ""
        raise UserError(
            f"{market.ticker} has {len(market.frame)} bars from {market.frame.index[0].date()} "
            f"to {market.frame.index[-1].date()}; the forecaster needs at least {minimum}: "
            f"{warmup} for feature warm-up, {window - 1} more to fill the first {window}-bar window, "
            f"{train} to train (walkforward.initial_train){skipped} and {fold} for one test fold "
            "(walkforward.retrain_every)",
            "use an earlier data.start or more data, or a smaller walkforward.initial_train, "
            "forecaster.window or walkforward.retrain_every",
        )
    return make_windows(features, market.frame["Close"], window)


def walk_forward_forecasts(cfg: DictConfig, market: MarketData, use_cache: bool = True,
                           until: pd.Timestamp | None = None, explain: bool = False) -> ForecastRun:
    """Out-of-sample forecasts for every bar after the first training span (cached by key).

    With `explain`, each fold's model is also explained on its test windows (cfg.explain); the
    attributions are cached beside the forecasts, and a run that finds forecasts but not their
    attributions trains again, since only the walk-forward holds the fold models.
    """
    key = forecast_key(market.fingerprint, forecast_settings(cfg), int(cfg.seed))
    tag = settings_hash(OmegaConf.to_container(cfg.explain, resolve=True), 12) if explain else None
    cache = ForecastCache(cfg.paths.cache_dir)
    if use_cache and until is None:
        cached = cache.load(key)
        stored = cache.load_explanation(key, tag) if cached is not None and tag else None
        if cached is not None and (tag is None or stored is not None):
            log.info("forecasts: reusing cached walk-forward forecasts %s (%d rows)", key, len(cached))
            return ForecastRun(cached, key, cached=True,
                               explanation=Explanation.from_dict(stored) if stored else None)
        if cached is not None:
            log.info("forecasts: %s is cached without attributions for these explain settings; "
                     "training again to explain each fold", key)
    windows = build_windows(cfg, market)
    walkforward: WalkForward = instantiate(cfg.walkforward)
    forecaster = instantiate(cfg.forecaster)
    baseline = RidgeForecaster(window=int(cfg.forecaster.window))
    explainer: FoldExplainer | None = (
        instantiate(cfg.explain, feature_names=list(cfg.features.columns)) if explain else None)
    log.info("forecasts: %s over %d samples, %d folds (%s, retrain every %d bars)",
             type(forecaster).__name__, len(windows), len(walkforward.folds(len(windows))),
             walkforward.mode, walkforward.retrain_every)
    predictions = walkforward.run(forecaster, windows, seed=int(cfg.seed), baseline=baseline,
                                  until=until, explain=explainer)
    explanation = explainer.explanation if explainer is not None else None
    if explainer is not None:
        log.info("explain: attributions for %d folds in %.1f s", len(explanation.folds),
                 explainer.seconds)
    if use_cache and until is None:
        if explanation is not None:
            cache.store_explanation(key, tag, explanation.to_dict())
        cache.store(key, predictions, {"ticker": market.ticker, "data": market.fingerprint})
    return ForecastRun(predictions, key, cached=False, explanation=explanation)
