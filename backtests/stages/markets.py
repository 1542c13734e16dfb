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
from backtests.data.holdout import selection_data
from backtests.data.membership import Membership
from backtests.data.universe import Universe, is_universe_run, load_panel
from backtests.errors import UserError
from backtests.pipeline.dask_cluster import check_reachable
from backtests.pipeline.forecasts import check_history, feature_warmup
from backtests.pipeline.universe import closes_panel, member_closes
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
        if self.single:
            return self.market.fingerprint
        return dataset_fingerprint(self.markets, self.membership)

    @property
    def membership(self) -> Membership | None:
        """Who was a member when (universe=membership), or None: every ticker on every date."""
        return None if self.universe is None else self.universe.membership

    def fingerprint_until(self, date: pd.Timestamp) -> str:
        """`fingerprint` of these data cut at `date`: equal to an earlier run's when the data since
        only grew (the journal and the ledger recognise a daily extension by it)."""
        if self.single:
            return self.market.fingerprint_until(date)
        return joined_fingerprint({t: m.fingerprint_until(date) for t, m in self.markets.items()},
                                  self.membership)

    @property
    def label(self) -> str:
        """What the ledger calls the data: the ticker, or `universe <name>`."""
        return self.market.ticker if self.universe is None else f"universe {self.universe.label}"

    def closes(self) -> pd.DataFrame:
        """Every ticker's close on the union of their dates (NaN where a ticker has no bar)."""
        return closes_panel(self.markets)

    def member_closes(self) -> pd.DataFrame:
        """closes() with NaN where the ticker was not a member that day: what the market-wide
        inputs and the sentiment index's outcomes average over (today's members: every close)."""
        return self.closes() if self.universe is None else member_closes(self.universe, self.markets)

    def altered(self, ticker: str, cutoff: pd.Timestamp, seed: int) -> Markets:
        """The same markets with `ticker`'s bars after `cutoff` on another random path (the audit)."""
        markets = {**self.markets, ticker: alter_after(self.markets[ticker], cutoff, seed)}
        return Markets(markets, self.universe, self.left_out)


def load_markets(cfg: DictConfig) -> Markets:
    """The configured ticker, or the universe's members that loaded with enough history; with
    `evaluation.holdout` set, only their bars before it (backtests/data/holdout.py)."""
    data = selection_data(cfg)
    if not is_universe_run(cfg):
        market = instantiate(data).load()
        log.info("prices: %s %d bars %s to %s (%s)", market.ticker, len(market.frame),
                 market.frame.index[0].date(), market.frame.index[-1].date(), market.source)
        return Markets({market.ticker: market})
    universe: Universe = instantiate(cfg.universe)
    tickers = universe.members(data)
    if universe.executor == "dask":  # installed and reachable, before any work
        check_reachable(universe.dask.address)
    warmup = feature_warmup(instantiate(cfg.features))

    def usable(market: MarketData) -> None:
        if warmup is None:
            return
        if universe.model == "global":  # a new listing enters once it has one window's sample
            check_sample(cfg, market, warmup)
        else:                           # its own walk-forward needs a single run's history
            check_history(cfg, market, warmup)

    markets, left_out = load_panel(data, tickers, usable)
    return Markets(markets, universe, left_out)


def check_sample(cfg: DictConfig, market: MarketData, warmup: int) -> None:
    """Refuse a ticker with too few bars for one sample of the global model: the features'
    warm-up and one window (it is trained on once a fold holds its labelled samples)."""
    needed = warmup + int(cfg.forecaster.window)
    if len(market.frame) < needed:
        raise UserError(
            f"{market.ticker} has {len(market.frame)} bars from {market.frame.index[0].date()} to "
            f"{market.frame.index[-1].date()}; one forecast needs {needed} ({warmup} for feature "
            f"warm-up, {cfg.forecaster.window} for one window)",
            "use an earlier data.start or more data, or a smaller forecaster.window")


def dataset_fingerprint(markets: Mapping[str, MarketData], membership: Membership | None = None) -> str:
    """One fingerprint for the universe's data: every ticker's, in ticker order, and who was a
    member when (the ledger's key: the same prices under other membership are other data)."""
    return joined_fingerprint({t: m.fingerprint for t, m in markets.items()}, membership)


def joined_fingerprint(fingerprints: Mapping[str, str], membership: Membership | None = None) -> str:
    """One fingerprint from every ticker's, in ticker order, and the membership's when given."""
    joined = ";".join(f"{t}:{f}" for t, f in sorted(fingerprints.items()))
    if membership is not None:
        joined += "|" + membership.digest()
    return hashlib.sha256(joined.encode()).hexdigest()[:16]
