"""From market data to out-of-sample risk forecasts and their backtests (conf/risk_model).

The risk walk-forward reuses the forecasts' windows, fold schedule and `lead`, so its test days
are the forecasts' test days; it is cached beside the forecasts under its own key (data
fingerprint, features, walk-forward, window, risk settings, seed), so a rerun that changes only
the strategy or the return forecaster reuses it.
"""
from __future__ import annotations

import logging
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
from forecasting.risk.distributions import column
from forecasting.risk.walkforward import METHODS, RiskSettings, fit_report, run_risk

log = logging.getLogger(__name__)

RISK_FORMAT = 2  # bump when the risk methods' output changes: older cache entries are not reused
# 2: fit_status, how each fold's fit went


@dataclass
class RiskRun:
    """Risk forecasts (one row per method and day, indexed by date) and how they were obtained."""

    frame: pd.DataFrame
    settings: RiskSettings
    key: str
    cached: bool


def risk_settings(cfg: DictConfig) -> RiskSettings | None:
    """The configured risk methods, checked before any data is read; None when switched off."""
    settings: RiskSettings | None = checked_group(
        cfg, "risk_model", f"risk_model.methods takes some of {', '.join(METHODS)}; "
        "risk_model.levels takes numbers such as [0.95,0.99]")
    return settings if settings is not None and settings.enabled else None


def risk_key(cfg: DictConfig, market: MarketData, from_forecasts: bool = False,
             source: str | None = None) -> str:
    """What determines the risk forecasts: not the return forecaster's settings but its window,
    unless the `lstm` method reads a distribution forecaster's forecasts (`from_forecasts`), and
    then, when those are a global model's, the key of its forecasts too (`source`: they depend
    on every ticker's data and the universe's settings, not on this ticker's alone)."""
    return forecast_key(market.fingerprint, risk_settings_of(cfg, from_forecasts, source),
                        int(cfg.seed))


def risk_settings_of(cfg: DictConfig, from_forecasts: bool = False,
                     source: str | None = None) -> dict[str, Any]:
    """The settings in the risk forecasts' key (`risk_key`), without the data."""
    settings: dict[str, Any] = {group: OmegaConf.to_container(cfg[group], resolve=True)
                                for group in ("features", "walkforward", "risk_model")}
    settings["window"], settings["risk_format"] = int(cfg.forecaster.window), RISK_FORMAT
    if from_forecasts:
        settings["forecaster"] = OmegaConf.to_container(cfg.forecaster, resolve=True)
        if source is not None:
            settings["forecasts"] = source
    return settings


def reads_forecasts(settings: RiskSettings, distribution: pd.DataFrame | None) -> bool:
    """Whether the `lstm` method reads the forecasts' 1-session distribution (no network of its own)."""
    return distribution is not None and "lstm" in settings.methods


def walk_forward_risk(cfg: DictConfig, market: MarketData, settings: RiskSettings,
                      use_cache: bool = True, until: pd.Timestamp | None = None,
                      distribution: pd.DataFrame | None = None,
                      ready: pd.DataFrame | None = None, source: str | None = None) -> RiskRun:
    """Out-of-sample risk forecasts for every forecast day (cached by key, like the forecasts).

    A day whose next return spans a gap in the data keeps its forecast but gets no `realised`
    return, so it is left out of the backtests, as it is out of the forecast scores.
    `distribution`: a distribution forecaster's forecasts, which the `lstm` method then reads.
    `ready`: some methods' rows, already computed by the background worker (stages/prefetch.py).
    `source`: the global model's forecast key when `distribution` is its (see `risk_key`).
    """
    distribution = distribution if reads_forecasts(settings, distribution) else None
    key = risk_key(cfg, market, distribution is not None, source)
    cache = ForecastCache(cfg.paths.cache_dir)
    if use_cache and until is None:
        cached = cache.load(key)
        if cached is not None:
            log.info("risk: reusing cached risk forecasts %s (%d rows)", key, len(cached))
            return RiskRun(cached, settings, key, cached=True)
    methods = settings.build(int(cfg.forecaster.window), distribution)
    done = {} if ready is None or until is not None else {
        str(name): part for name, part in ready.groupby("method", sort=False) if name in methods}
    todo = {name: method for name, method in methods.items() if name not in done}
    computed = compute_risk(cfg, market, settings, todo, until, distribution is not None,
                            remembered=use_cache) if todo else None
    frame = computed if not done and computed is not None else in_method_order(done, methods, computed)
    frame.loc[frame.index.isin(pd.DatetimeIndex(market.unscored)), "realised"] = np.nan
    if use_cache and until is None:
        cache.store(key, frame, {"ticker": market.ticker, "data": market.fingerprint, "kind": "risk"})
    return RiskRun(frame, settings, key, cached=False)


def compute_risk(cfg: DictConfig, market: MarketData, settings: RiskSettings,
                 methods: dict[str, Any], until: pd.Timestamp | None = None,
                 from_forecasts: bool = False, remembered: bool = True) -> pd.DataFrame:
    """`methods`' rows over the forecasts' folds, reusing the folds an earlier run with the same
    settings and methods already fitted (`remembered`: the fold memory, pipeline/fold_memory.py).
    No cache: `walk_forward_risk` and the background worker (stages/prefetch.py) both call this,
    each for its own methods, each with its own memory."""
    windows = build_windows(cfg, market)
    lead = market.frame.index.get_loc(windows.index[0])
    remembered = remembered and until is None
    walkforward = instantiate(cfg.walkforward)
    if from_forecasts and "lstm" in methods:
        # The `lstm` method only reads the forecasts' 1-session distribution: no fit to remember,
        # and a global model's rows for this ticker change with every ticker's data, which this
        # ticker's windows cannot show. So it is read afresh (a fraction of a second); the methods
        # that fit (GARCH, ...) keep a memory keyed by their own settings, which data that only
        # grew leaves valid (before, a global universe's evening update refitted them all).
        read = run_risk(walkforward, {"lstm": methods["lstm"]}, windows, settings.levels,
                        seed=int(cfg.seed), lead=lead, until=until)
        fitted = {name: method for name, method in methods.items() if name != "lstm"}
        rest = compute_risk(cfg, market, settings, fitted, until, remembered=remembered) \
            if fitted else None
        return in_method_order({"lstm": read}, methods, rest)
    memory = memory_key("risk", market.ticker, {**risk_settings_of(cfg), "methods": list(methods)},
                        int(cfg.seed))
    incremental = recall(cfg.paths.cache_dir, memory) if remembered else None
    frame = run_risk(walkforward, methods, windows, settings.levels,
                     seed=int(cfg.seed), lead=lead, until=until, incremental=incremental)
    if incremental is not None:
        remember(cfg.paths.cache_dir, memory, incremental)
    return frame


def in_method_order(done: dict[str, pd.DataFrame], methods: dict[str, Any],
                    computed: pd.DataFrame | None) -> pd.DataFrame:
    """Rows computed before and now, method by method in the configured order (run_risk's)."""
    parts = dict(done)
    if computed is not None:
        parts.update({str(name): part for name, part in computed.groupby("method", sort=False)})
    return pd.concat([parts[name] for name in methods])


def var_table(frame: pd.DataFrame, asset: str, levels: list[float]) -> pd.DataFrame:
    """var.csv: date, asset, method, var_95, var_99, es_95, es_99, realised, volatility, fold."""
    measures = [column(kind, level) for kind in ("var", "es") for level in levels]
    table = frame.reset_index()[["date", "method", *measures, "realised", "volatility", "fold"]]
    table.insert(1, "asset", asset)
    return table


def risk_results(run: RiskRun, asset: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(var.csv, var_backtests.csv, the metrics `risk` block), the backtests read from var.csv."""
    from forecasting.risk.evaluation import backtest_table, risk_block

    levels = list(run.settings.levels)
    table = var_table(run.frame, asset, levels)
    backtests = backtest_table(table, levels, asset)
    block = risk_block(table, backtests, levels)
    block["fits"] = fit_report(run.frame)  # failed or unconverged fits per method, and their folds
    return table, backtests, block


def tally_backtests(backtests: pd.DataFrame, significance: float = 0.05) -> dict[str, Any]:
    """Across many tickers: per level, how many each method passes (Kupiec and Christoffersen's
    conditional coverage both at `significance`) and on how many its quantile loss is the lowest."""
    tally: dict[str, Any] = {"tickers": int(backtests["asset"].nunique()) if len(backtests) else 0,
                             "significance": significance, "levels": {}}
    for level, part in backtests.groupby("level", sort=True):
        passes = (part["kupiec_p"] >= significance) & (part["christoffersen_cc_p"] >= significance)
        lowest = part.loc[part.groupby("asset")["quantile_loss"].idxmin(), "method"]
        tally["levels"][column("var", float(level))] = {
            str(method): {"passes": int(passes[part["method"] == method].sum()),
                          "lowest_quantile_loss": int((lowest == method).sum())}
            for method in dict.fromkeys(part["method"])}
    return tally
