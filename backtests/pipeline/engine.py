"""Runs one strategy through backtrader with the configured costs and risk rules, and collects what
happened."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import backtrader as bt
import pandas as pd

from backtests.pipeline.costs import BrokerSettings
from backtests.settings.defaults import shipped
from strategies.analyzers import EquityAtClose
from strategies.broker import ProtectiveBroker
from strategies.feeds import SignalData
from strategies.risk import RiskRules
from strategies.sizers import EquityFractionSizer

TRADE_COLUMNS = ["entry_date", "exit_date", "direction", "size", "entry_price", "exit_price",
                 "pnl", "pnl_pct", "exit_reason"]


@dataclass
class BacktestResult:
    """Daily simple returns, daily equity, a per-day in-market flag, the closed trades, and what the
    last close decided for the next open (`RiskManagedStrategy.decision`)."""

    returns: pd.Series
    equity: pd.Series
    in_market: pd.Series
    trades: pd.DataFrame
    decision: dict[str, Any]


def horizon_columns(predictions: pd.DataFrame, horizon: int) -> pd.DataFrame | None:
    """p_up, mean, scale, df of the `horizon`-session distribution by date, from a distribution
    forecaster's columns (mean_h5, ...); None when the forecasts hold no such horizon."""
    names = [f"{measure}_h{horizon}" for measure in ("mean", "scale", "df")]
    if not set(names) <= set(predictions.columns):
        return None
    from forecasting.distribution.base import p_up

    out = predictions[names].set_axis(["mean", "scale", "df"], axis=1)
    return out.assign(p_up=p_up(out).to_numpy())[["p_up", "mean", "scale", "df"]]


def signal_bars(frame: pd.DataFrame, forecasts: pd.Series, risk: RiskRules | None = None,
                risk_forecasts: pd.DataFrame | None = None,
                distribution: pd.DataFrame | None = None) -> pd.DataFrame:
    """The bars a strategy trades: OHLCV, the `signal` (the forecast known at each close) and, when
    the risk rules size positions on forecast volatility (risk.vol_source=forecast), the LSTM risk
    head's next-day volatility known at each close as `volatility`; with a distribution forecaster,
    the chosen horizon's `p_up`, `mean`, `scale`, `df` known at each close (`horizon_columns`)."""
    bars = frame.assign(signal=forecasts.reindex(frame.index))
    if distribution is not None:
        bars = bars.join(distribution.reindex(frame.index))
    if risk is not None and getattr(risk, "vol_source", "realised") == "forecast":
        if risk_forecasts is None:
            raise ValueError("risk.vol_source=forecast needs the risk forecasts")
        lstm = risk_forecasts[risk_forecasts["method"] == "lstm"]["volatility"]
        bars["volatility"] = lstm.reindex(frame.index)
    return bars


def new_cerebro(broker: BrokerSettings, risk: RiskRules) -> bt.Cerebro:
    """A Cerebro whose orders decided at a close fill at the next open (cheat-on-open), through the
    ProtectiveBroker with the configured cash, commission scheme, slippage (never outside the bar's
    range) and the equity-fraction sizer (which also carries the broker's invest_fraction)."""
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True, maxcpus=1)
    cerebro.setbroker(ProtectiveBroker())
    cerebro.broker.setcash(broker.cash)
    cerebro.broker.addcommissioninfo(broker.commission_info())
    cerebro.broker.set_slippage_perc(broker.slippage, slip_open=True, slip_limit=True,
                                     slip_match=True, slip_out=False)
    cerebro.addsizer(EquityFractionSizer, fraction=broker.invest_fraction, risk=risk)
    return cerebro


def run_backtest(bars: pd.DataFrame, strategy: type[bt.Strategy], params: dict[str, Any],
                 broker: BrokerSettings, start: pd.Timestamp,
                 risk: RiskRules | None = None) -> BacktestResult:
    """Trade `bars` (OHLCV + `signal`) from the close of `start`; returns start at that close.

    Bars before `start` only warm up indicators. Market orders decided at a close fill at the next
    open (cheat-on-open sizing at that open), with slippage that never leaves the bar's range.
    `risk` (None: no rules) goes to the strategy, which places the stops, and to the sizer.
    """
    risk = risk or RiskRules(**shipped("risk", "none"))  # conf/risk/none.yaml: no rules
    cerebro = new_cerebro(broker, risk)
    cerebro.adddata(getattr(strategy, "feed", SignalData)(dataname=bars))
    cerebro.addstrategy(strategy, start=start.date(), risk=risk, **params)
    cerebro.addanalyzer(bt.analyzers.TimeReturn, _name="daily", timeframe=bt.TimeFrame.Days)
    cerebro.addanalyzer(EquityAtClose, _name="equity")
    strat = cerebro.run()[0]

    returns = pd.Series(strat.analyzers.daily.get_analysis(), dtype="float64")
    returns.index = pd.DatetimeIndex(returns.index).normalize()
    equity = pd.Series(strat.analyzers.equity.get_analysis(), dtype="float64")
    equity.index = pd.DatetimeIndex(equity.index)
    in_market = pd.Series(strat.in_market, dtype=bool)
    in_market.index = pd.DatetimeIndex(in_market.index)
    keep = returns.index >= start
    returns = returns[keep]
    returns.iloc[0] = 0.0  # the first test close is the starting point, not a day held
    trades = pd.DataFrame(strat.trade_log, columns=TRADE_COLUMNS)
    return BacktestResult(returns=returns, equity=equity[equity.index >= start],
                          in_market=in_market[in_market.index >= start], trades=trades,
                          decision=strat.decision())
