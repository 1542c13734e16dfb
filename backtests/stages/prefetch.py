"""Baselines fitted beside the network: the work of two later stages, begun before the forecasts.

The distribution baselines (historical, EWMA, GARCH-t, climatology) and the network-free risk
methods (historical, EWMA, GARCH) need only the prices and the walk-forward's folds, not the
network's forecasts; on a single run they take seconds of one core while the network's training
leaves the second core mostly idle. So when the run has a background worker
(outputs/background.py), one job per ticker fits them there as soon as the prices are loaded, and
the distribution and risk stages take its rows instead of fitting them again: the same functions
on the same inputs (`compute_baselines`, `compute_risk`), in the same order (the GARCH fits the
distribution baselines make are reused by the risk method in that process too), so every file is
the one an inline run writes. A rerun whose baselines are cached starts no job; a universe keeps
its own fan-out over tickers (pipeline/universe_risk.py).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from backtests.data.base import MarketData
from backtests.outputs.background import Background
from backtests.pipeline.forecast_cache import ForecastCache
from backtests.pipeline.risk import compute_risk
from backtests.stages.distribution import baseline_key, compute_baselines, distribution_settings
from backtests.stages.markets import Markets
from forecasting.distribution.settings import DistributionSettings
from forecasting.risk.walkforward import RiskSettings, warn_unconverged

log = logging.getLogger(__name__)

NETWORK_FREE = ("historical", "ewma", "garch")  # risk methods that train no network


@dataclass
class Early:
    """Each ticker's job: (distribution baselines or None, network-free risk rows or None)."""

    jobs: dict[str, Future] = field(default_factory=dict)

    def _results(self, part: int) -> dict[str, pd.DataFrame]:
        found = {ticker: job.result()[part] for ticker, job in self.jobs.items()}
        return {ticker: frame for ticker, frame in found.items() if frame is not None}

    def distributions(self) -> Mapping[str, pd.DataFrame]:
        """Baseline distributions by ticker (waits for the jobs; empty without any)."""
        ready = self._results(0)
        if ready:
            log.info("distributions: baselines fitted beside the network for %s",
                     ", ".join(sorted(ready)))
        return ready

    def risk(self) -> Mapping[str, pd.DataFrame]:
        """Network-free risk rows by ticker (waits for the jobs; empty without any)."""
        ready = self._results(1)
        for frame in ready.values():
            warn_unconverged(frame)  # the worker's log is not the run's: said here
        return ready


def baselines_job(cfg: DictConfig, market: MarketData, horizons: list[int] | None,
                  distribution: DistributionSettings | None, risk: RiskSettings | None
                  ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """In the worker: the distribution baselines, then the network-free risk methods' rows."""
    baselines = None
    if horizons and distribution is not None:
        baselines = compute_baselines(cfg, market, distribution, horizons)
    rows = None
    if risk is not None:
        methods = {name: method for name, method in risk.build(int(cfg.forecaster.window)).items()
                   if name in NETWORK_FREE}
        rows = compute_risk(cfg, market, risk, methods) if methods else None
    return baselines, rows


def start_baselines(cfg: DictConfig, loaded: Markets, risk: RiskSettings | None, forecasts: bool,
                    background: Background) -> Early:
    """Start each ticker's job in the background worker when there is one and it would help."""
    if background.inline or not loaded.single or not forecasts:
        return Early()
    horizons = cfg.forecaster.get("horizons")
    distribution = distribution_settings(cfg)
    wanted = sorted({1, *(int(h) for h in horizons)}) if horizons is not None else None
    if wanted is None or distribution is None or not distribution.enabled or not distribution.baselines:
        return Early()  # risk alone is a second or so: not worth a job
    try:  # the worker gets plain values: no Hydra context there to resolve ${hydra:...}
        plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    except OmegaConfBaseException as exc:
        log.debug("baselines inline: the settings do not resolve outside Hydra (%s)", exc)
        return Early()
    assert isinstance(plain, DictConfig)
    cache = ForecastCache(cfg.paths.cache_dir)
    jobs = {}
    for ticker, market in loaded.markets.items():
        if cache.sealed(baseline_key(cfg, market, wanted)):
            continue  # a rerun: the stages read the cache (not read twice here)
        jobs[ticker] = background.queue(partial(baselines_job, plain, market, wanted, distribution,
                                                risk))
    return Early(jobs)
