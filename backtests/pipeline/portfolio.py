"""Runs one portfolio strategy over a universe of tickers (one feed each) through backtrader with
the configured costs and risk rules, and collects what happened as date x ticker tables."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import TRADE_COLUMNS, new_cerebro
from backtests.settings.defaults import shipped
from strategies.feeds import SignalData
from strategies.portfolio.base import PortfolioStrategy
from strategies.risk import RiskRules


@dataclass
class PortfolioResult:
    """What a portfolio run did, every series and table from the close of `start`."""

    returns: pd.Series        # daily simple returns by date, the first (the start close) 0.0
    equity: pd.Series         # broker value at each close
    holdings: pd.DataFrame    # date x ticker: signed position value / equity at each close (0 flat)
    weights: pd.DataFrame     # date x ticker: signed weights right after each rebalance day's fills
    trades: pd.DataFrame      # ["ticker", *TRADE_COLUMNS]: one row per round trip per ticker
    exposure: pd.DataFrame    # date: gross, net (from holdings)
    in_market: pd.Series      # date -> gross > 0
    targets: pd.DataFrame     # date x ticker: the targets each rebalance close decided
    traded: pd.Series         # date -> value of every fill that day (rebalances, stops, breaker)
    decision: dict[str, Any] = field(default_factory=dict)  # what the last close decided (predict)


def _table(rows: Mapping[Any, Mapping[str, float]], tickers: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(dict(rows), orient="index", dtype="float64")
    frame = frame.reindex(columns=tickers).fillna(0.0)
    frame.index = pd.DatetimeIndex(frame.index, name="Date")
    return frame


def run_portfolio(bars: Mapping[str, pd.DataFrame], strategy: type[PortfolioStrategy],
                  params: dict[str, Any], broker: BrokerSettings, start: pd.Timestamp,
                  risk: RiskRules | None = None) -> PortfolioResult:
    """Trade every frame of `bars` (ticker -> OHLCV + `signal`, optional `volatility`) from the close
    of `start`; returns start at that close.

    Bars before `start` only warm up (volatility windows). Orders decided at a close fill at the next
    open with the same broker set-up as `run_backtest` (engine.new_cerebro).
    """
    risk = risk or RiskRules(**shipped("risk", "none"))  # conf/risk/none.yaml: no rules
    cerebro = new_cerebro(broker, risk)
    tickers = list(bars)
    for ticker in tickers:
        cerebro.adddata(getattr(strategy, "feed", SignalData)(dataname=bars[ticker]), name=ticker)
    cerebro.addstrategy(strategy, start=start.date(), risk=risk, **params)
    strat = cerebro.run()[0]

    equity = pd.Series(strat.equity_at, dtype="float64")
    equity.index = pd.DatetimeIndex(equity.index, name="Date")
    equity = equity[equity.index >= start]
    returns = equity.pct_change()
    returns.iloc[0] = 0.0  # the first test close is the starting point, not a day held
    holdings = _table(strat.holdings_at, tickers).reindex(equity.index, fill_value=0.0)
    weights = _table(strat.weights_at, tickers)
    targets = _table(strat.targets, tickers)
    trades = pd.DataFrame(strat.book.rows, columns=["ticker", *TRADE_COLUMNS])
    exposure = pd.DataFrame({"gross": holdings.abs().sum(axis=1), "net": holdings.sum(axis=1)})
    return PortfolioResult(returns=returns, equity=equity, holdings=holdings,
                           weights=weights[weights.index >= start], trades=trades, exposure=exposure,
                           in_market=exposure["gross"] > 0, targets=targets,
                           traded=pd.Series(strat.traded, dtype="float64"),
                           decision=strat.decision())
