"""Risk forecasts for a whole universe: each ticker's risk walk-forward, then the book's var.csv rows.

Each ticker goes through `walk_forward_risk`, the very call a single run makes, so both share the
risk cache entry (same data, settings and key): a single run then a universe run refits nothing.
As for the return forecasts (pipeline/universe.py), cache hits are read here and misses are
computed in worker processes (`universe.executor`: joblib's loky backend or a Dask cluster; fresh
interpreters, so TensorFlow is never forked and the parent, reading hits only, never imports it).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.data.base import MarketData
from backtests.errors import UserError
from backtests.pipeline.dask_cluster import OwnRead, arrive
from backtests.pipeline.forecast_cache import ForecastCache
from backtests.pipeline.forecasts import check_history, feature_warmup
from backtests.pipeline.risk import RiskRun, reads_forecasts, risk_key, var_table, walk_forward_risk
from backtests.pipeline.workers import Executor, worker_setup
from forecasting.risk.walkforward import RiskSettings

log = logging.getLogger(__name__)

PORTFOLIO = "portfolio"  # the book's asset name in var.csv and var_backtests.csv


def _worker_cfg(cfg: DictConfig) -> dict:
    """What a worker needs for a ticker's risk walk-forward, resolved (no Hydra runtime there):
    the groups risk_key hashes and build_windows reads, so a worker's key is the parent's."""
    groups = {g: OmegaConf.to_container(cfg[g], resolve=True)
              for g in ("features", "walkforward", "risk_model", "forecaster")}
    return {**groups, "seed": int(cfg.seed),
            "paths": {"cache_dir": str(cfg.paths.cache_dir)}}


def _risk_one(settings: dict, market: MarketData | OwnRead, risk: RiskSettings,
              distribution: pd.DataFrame | None, source: str | None = None,
              threads: int = 0) -> pd.DataFrame:
    """One ticker's risk walk-forward in a worker process (stored in the shared cache)."""
    worker_setup(threads, "lstm" in risk.methods and distribution is None)
    return walk_forward_risk(OmegaConf.create(settings), arrive(market), risk,
                             distribution=distribution, source=source).frame


def universe_risk(cfg: DictConfig, markets: Mapping[str, MarketData], settings: RiskSettings,
                  n_jobs: int, distributions: Mapping[str, pd.DataFrame] | None = None,
                  source: str | None = None) -> dict[str, RiskRun]:
    """{ticker: its risk forecasts}, sorted by ticker; cache misses computed on n_jobs processes.
    `distributions`: each ticker's distribution forecasts, which its `lstm` method then reads;
    `source`: the global model's forecast key when they are its (part of each risk key)."""
    cache = ForecastCache(cfg.paths.cache_dir)
    given = {t: (distributions or {}).get(t) for t in markets}
    given = {t: frame if reads_forecasts(settings, frame) else None for t, frame in given.items()}
    keys = {t: risk_key(cfg, m, given[t] is not None, source) for t, m in markets.items()}
    runs: dict[str, RiskRun] = {}
    for ticker, key in keys.items():
        frame = cache.peek(key)  # no lock taken on a miss: the workers need it
        if frame is not None:
            runs[ticker] = RiskRun(frame, settings, key, cached=True)
    missing = sorted(t for t in markets if t not in runs and own_history(cfg, markets[t]))
    log.info("universe risk forecasts: %d of %d from the cache, %d to compute on %d process(es)",
             len(runs), len(markets), len(missing), min(n_jobs, max(1, len(missing))))
    worker = _worker_cfg(cfg)
    executor = Executor.of(cfg, n_jobs)
    frames = executor.map(_risk_one, [(worker, executor.ship(markets[t]), settings, given[t], source)
                                      for t in missing], "risk forecasts")
    for ticker, frame in zip(missing, frames, strict=True):
        runs[ticker] = RiskRun(frame, settings, keys[ticker], cached=False)
    return {t: runs[t] for t in sorted(runs)}


def own_history(cfg: DictConfig, market: MarketData) -> bool:
    """Whether the ticker has the history its own risk walk-forward needs (a single run's); a new
    listing that the global model already forecasts may not, and gets no risk forecasts yet."""
    warmup = feature_warmup(instantiate(cfg.features))
    try:
        check_history(cfg, market, warmup or 0)
    except UserError as exc:
        log.warning("universe risk forecasts: none for %s: %s", market.ticker, exc.message)
        return False
    return True


def vol_panel(runs: Mapping[str, RiskRun]) -> dict[str, pd.DataFrame]:
    """{method: date x ticker volatility forecasts}, each made at its date's close (NaN: none)."""
    methods = list(dict.fromkeys(m for run in runs.values() for m in run.frame["method"]))
    panels = {}
    for method in methods:
        columns = {t: run.frame.loc[run.frame["method"] == method, "volatility"]
                   for t, run in sorted(runs.items())}
        panel = pd.DataFrame(columns).sort_index()
        panel.index.name = "date"
        panels[method] = panel
    return panels


def portfolio_folds(runs: Mapping[str, RiskRun]) -> pd.Series:
    """The walk-forward fold of the book's forecast on each date: the tickers' fold when they all
    agree (a universe on one calendar); missing (<NA>) where they differ."""
    folds = pd.DataFrame({t: run.frame.loc[~run.frame.index.duplicated(), "fold"]
                          for t, run in runs.items()})
    agreed = folds.nunique(axis=1) == 1
    return folds.bfill(axis=1).iloc[:, 0].where(agreed).astype("Int64")


def universe_var_table(runs: Mapping[str, RiskRun], portfolio_frame: pd.DataFrame | None,
                       levels: Sequence[float]) -> pd.DataFrame:
    """var.csv for the universe: every ticker's rows (asset = ticker) and the book's (asset =
    "portfolio", none when `portfolio_frame` is None: nothing traded), sorted by asset, date,
    method; `fold` is empty where the book has none."""
    levels = list(levels)
    parts = [var_table(run.frame, t, levels) for t, run in runs.items()]
    if portfolio_frame is not None:
        book = portfolio_frame.copy()
        book["fold"] = portfolio_folds(runs).reindex(book.index) if runs else pd.NA
        parts.append(var_table(book, PORTFOLIO, levels))
    table = pd.concat(parts, ignore_index=True)
    table["fold"] = table["fold"].astype("Int64")
    return table.sort_values(["asset", "date", "method"], kind="stable").reset_index(drop=True)
