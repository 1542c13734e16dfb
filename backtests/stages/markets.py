"""The chain's first stage: the prices of every ticker a run covers, loaded and checked.

A single ticker is a universe of one: the same record, one market in it. It loads through its
own source (a bad file stops the run with the source's error), where a universe loads every
member and leaves out, with a warning, those that fail their checks.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.data.base import MarketData
from backtests.data.universe import Universe, is_universe_run, load_panel
from backtests.pipeline.dask_cluster import check_reachable
from backtests.pipeline.forecasts import check_history, feature_warmup
from backtests.pipeline.universe import closes_panel
from backtests.stages.lookahead import alter_after

log = logging.getLogger(__name__)


@dataclass
class Markets:
    """What the load stage hands on: {ticker: checked prices}, and the universe they make."""

    markets: dict[str, MarketData]
    universe: Universe | None = None  # None: a single-ticker run
    left_out: dict[str, str] = field(default_factory=dict)  # {ticker: why} of members not loaded

    @property
    def single(self) -> bool:
        """A single-ticker run: the one ticker's engine trades it and its pages describe it."""
        return self.universe is None

    @property
    def market(self) -> MarketData:
        """The one market of a single-ticker run."""
        assert len(self.markets) == 1, "a universe has no single market"
        return next(iter(self.markets.values()))

    @property
    def fingerprint(self) -> str:
        """The data's fingerprint (the ledger's and the reports' key): a ticker's own, or the
        universe's from every member's."""
        return self.market.fingerprint if self.single else dataset_fingerprint(self.markets)

    @property
    def label(self) -> str:
        """What the ledger calls the data: the ticker, or `universe <name>`."""
        return self.market.ticker if self.universe is None else f"universe {self.universe.label}"

    def closes(self) -> pd.DataFrame:
        """Every ticker's close on the union of their dates (NaN where a ticker has no bar)."""
        return closes_panel(self.markets)

    def altered(self, ticker: str, cutoff: pd.Timestamp, seed: int) -> Markets:
        """The same markets with `ticker`'s bars after `cutoff` on another random path (the audit)."""
        markets = {**self.markets, ticker: alter_after(self.markets[ticker], cutoff, seed)}
        return Markets(markets, self.universe, self.left_out)


def load_markets(cfg: DictConfig) -> Markets:
    """The configured ticker, or the universe's members that loaded with enough history."""
    if not is_universe_run(cfg):
        market = instantiate(cfg.data).load()
        log.info("prices: %s %d bars %s to %s (%s)", market.ticker, len(market.frame),
                 market.frame.index[0].date(), market.frame.index[-1].date(), market.source)
        return Markets({market.ticker: market})
    universe: Universe = instantiate(cfg.universe)
    tickers = universe.members(cfg.data)
    if universe.executor == "dask":  # installed and reachable, before any work
        check_reachable(universe.dask.address)
    warmup = feature_warmup(instantiate(cfg.features))

    def usable(market: MarketData) -> None:
        if warmup is not None:
            check_history(cfg, market, warmup)

    markets, left_out = load_panel(cfg.data, tickers, usable)
    return Markets(markets, universe, left_out)


def dataset_fingerprint(markets: Mapping[str, MarketData]) -> str:
    """One fingerprint for the universe's data: every ticker's, in ticker order (the ledger's key)."""
    joined = ";".join(f"{t}:{m.fingerprint}" for t, m in sorted(markets.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]
