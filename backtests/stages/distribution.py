"""The distribution stage: a ticker's forecast distributions at every horizon, beside baselines.

With a distribution forecaster (forecaster=lstm_dist) the forecasts carry, per day and horizon, the
network's Student-t; this stage adds the baselines (conf/distribution), refit on the same folds,
and each row's outcome, the h-session log return that followed (NaN until known). The baselines
are cached like the risk forecasts (data, features, walk-forward, window, horizons, settings).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.data.base import MarketData
from backtests.pipeline.fold_memory import memory_key, recall, remember
from backtests.pipeline.forecast_cache import ForecastCache, forecast_key
from backtests.pipeline.forecasts import build_windows
from backtests.settings.groups import checked_group
from backtests.stages.forecasts import Forecasts
from backtests.stages.markets import Markets
from forecasting.distribution.base import p_up, quantiles
from forecasting.distribution.baselines import BASELINES
from forecasting.distribution.calibration import with_climatology
from forecasting.distribution.settings import DistributionSettings
from forecasting.distribution.walkforward import (
    horizons_of,
    model_distributions,
    run_distributions,
    with_outcomes,
)
from forecasting.windows import Windows

log = logging.getLogger(__name__)

DISTRIBUTION_FORMAT = 1  # bump when a baseline's output changes: older cache entries are not reused


@dataclass
class Distributions:
    """Rows by date: horizon, method, mean, scale, df, fold, realised (the network's `lstm` first);
    a universe's carry a `ticker` column, a single run's do not."""

    frame: pd.DataFrame
    key: str | dict[str, str] = ""  # the baselines' cache key (a universe: one per ticker)
    cached: bool = False

    @property
    def tickers(self) -> list[str]:
        return sorted(set(self.frame["ticker"])) if "ticker" in self.frame.columns else []

    def by_date(self) -> pd.DataFrame:
        """mean, scale, df by date, a column per (measure, [ticker,] method, horizon): what is
        known at each close (the audit's view; the outcomes are left out)."""
        columns = [*(["ticker"] if self.tickers else []), "method", "horizon"]
        return self.frame.reset_index().pivot(index="date", columns=columns,
                                              values=["mean", "scale", "df"])

    def table(self, closes: pd.Series | pd.DataFrame) -> pd.DataFrame:
        """distribution.csv: date, [ticker,] horizon, method, mean, scale, df, q05..q95, p_up,
        p_up_climatology (the share of up moves known at the close: what P(up) must beat),
        realised, fold; the network's rows first, then each baseline's, each by horizon and date
        (a universe: ticker by ticker). `closes`: the ticker's close, or a universe's by ticker."""
        if not self.tickers:
            return _table(self.frame, closes)
        assert isinstance(closes, pd.DataFrame)
        parts = [_table(self.frame[self.frame["ticker"] == t].drop(columns="ticker"), closes[t].dropna())
                 .assign(ticker=t) for t in self.tickers]
        table = pd.concat(parts, ignore_index=True)
        return table[["date", "ticker", *[c for c in table.columns if c not in ("date", "ticker")]]]


def _table(frame: pd.DataFrame, close: pd.Series) -> pd.DataFrame:
    frame = frame.reset_index()
    order = {m: i for i, m in enumerate(dict.fromkeys(frame["method"]))}
    frame = frame.sort_values(["method", "horizon", "date"], key=lambda c: c.map(order)
                              if c.name == "method" else c, kind="stable").reset_index(drop=True)
    table = pd.concat([frame[["date", "horizon", "method", "mean", "scale", "df"]],
                       quantiles(frame)], axis=1)
    table["p_up"] = p_up(frame).to_numpy()
    table = with_climatology(table, np.log(close).diff())
    table["realised"] = frame["realised"].to_numpy()
    table["fold"] = frame["fold"].astype(int).to_numpy()
    return table


def distribution_settings(cfg: DictConfig) -> DistributionSettings | None:
    """The configured baselines, checked before any data is read; None without the group."""
    settings: DistributionSettings | None = checked_group(
        cfg, "distribution", f"distribution.baselines takes some of {', '.join(BASELINES)}")
    return settings


def distribution_stage(cfg: DictConfig, loaded: Markets, forecasts: Forecasts,
                       use_cache: bool = True, until: pd.Timestamp | None = None,
                       ready: Mapping[str, pd.DataFrame] | None = None) -> Distributions | None:
    """Every ticker's distributions beside the baselines, or None (a point forecaster).
    `ready`: baselines the background worker already computed (stages/prefetch.py), by ticker."""
    made = {t: frame for t in sorted(loaded.markets) if (frame := forecasts.distribution(t)) is not None}
    if not made:
        return None
    settings = distribution_settings(cfg)
    parts, keys, cached = [], {}, True
    for ticker, predictions in made.items():
        frame, keys[ticker], hit = _ticker_distributions(cfg, loaded.markets[ticker], predictions,
                                                         settings, use_cache, until,
                                                         (ready or {}).get(ticker))
        cached = cached and hit
        parts.append(frame if loaded.single else frame.assign(ticker=ticker))
    frame = pd.concat(parts)
    if until is not None:
        frame = frame[frame.index <= until]
    return Distributions(frame, keys[loaded.market.ticker] if loaded.single else keys, cached)


def _ticker_distributions(cfg: DictConfig, market: MarketData, predictions: pd.DataFrame,
                          settings: DistributionSettings | None, use_cache: bool,
                          until: pd.Timestamp | None, ready: pd.DataFrame | None = None
                          ) -> tuple[pd.DataFrame, str, bool]:
    """One ticker's rows: the network's from its forecasts, the baselines' refit on the same
    folds, each with the h-session return that followed."""
    horizons = horizons_of(predictions)
    windows = build_windows(cfg, market)
    parts = [model_distributions(predictions)]
    key, cached = "", False
    if settings is not None and settings.enabled and settings.baselines:
        if ready is not None and sorted(set(ready["horizon"])) != horizons:
            ready = None  # made for other horizons than these forecasts': not theirs
        baselines, key, cached = _baselines(cfg, market, windows, settings, horizons, use_cache,
                                            until, ready)
        parts.append(baselines)
    daily = pd.Series(windows.y, index=windows.index)
    daily[daily.index.isin(pd.DatetimeIndex(market.unscored))] = np.nan  # spans a gap in the data
    return with_outcomes(pd.concat(parts), daily), key, cached


def baseline_settings(cfg: DictConfig, horizons: list[int]) -> dict[str, Any]:
    """What determines a ticker's baseline distributions, but the data."""
    wanted: dict[str, Any] = {group: OmegaConf.to_container(cfg[group], resolve=True)
                              for group in ("features", "walkforward", "distribution")}
    wanted.update(window=int(cfg.forecaster.window), horizons=horizons, format=DISTRIBUTION_FORMAT)
    return wanted


def baseline_key(cfg: DictConfig, market: MarketData, horizons: list[int]) -> str:
    """What determines a ticker's baseline distributions (the cache key)."""
    return forecast_key(market.fingerprint, baseline_settings(cfg, horizons), int(cfg.seed))


def compute_baselines(cfg: DictConfig, market: MarketData, settings: DistributionSettings,
                      horizons: list[int], until: pd.Timestamp | None = None,
                      windows: Windows | None = None, remembered: bool = True) -> pd.DataFrame:
    """The baselines refit on the forecasts' folds, reusing the folds an earlier run on the same
    settings already fitted (`remembered`: the fold memory, pipeline/fold_memory.py). No cache:
    `_baselines` and the background worker (stages/prefetch.py) both call this."""
    windows = build_windows(cfg, market) if windows is None else windows
    lead = market.frame.index.get_loc(windows.index[0])
    remembered = remembered and until is None
    memory = memory_key("distributions", market.ticker, baseline_settings(cfg, horizons),
                        int(cfg.seed))
    incremental = recall(cfg.paths.cache_dir, memory) if remembered else None
    frame = run_distributions(instantiate(cfg.walkforward), settings.build(), windows, horizons,
                              seed=int(cfg.seed), lead=lead, until=until, incremental=incremental)
    if incremental is not None:
        remember(cfg.paths.cache_dir, memory, incremental)
    return frame


def _baselines(cfg: DictConfig, market: MarketData, windows: Windows,
               settings: DistributionSettings, horizons: list[int], use_cache: bool,
               until: pd.Timestamp | None, ready: pd.DataFrame | None = None
               ) -> tuple[pd.DataFrame, str, bool]:
    key = baseline_key(cfg, market, horizons)
    cache = ForecastCache(cfg.paths.cache_dir)
    if use_cache and until is None:
        found = cache.load(key)
        if found is not None:
            log.info("distributions: reusing cached baselines %s (%d rows)", key, len(found))
            return found, key, True
    frame = ready if ready is not None and until is None else compute_baselines(
        cfg, market, settings, horizons, until, windows, remembered=use_cache)
    if use_cache and until is None:
        cache.store(key, frame, {"ticker": market.ticker, "data": market.fingerprint,
                                 "kind": "distribution"})
    return frame, key, False
