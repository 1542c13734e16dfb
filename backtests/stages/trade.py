"""The trade stage: the one place a run chooses its engine.

A strategy that trades one ticker (lstm_momentum, sma_cross, ...) runs on the single-ticker engine
against buy-and-hold; a portfolio strategy (topk, market_neutral) runs on the portfolio engine
against the equal-weight book (stages/portfolio.py). Both are backtrader, with the same costs, the
risk rules, and signals known at a close filled at the next open. A universe given a strategy that
trades one ticker scores its forecasts and trades nothing.
"""
from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.outputs.results import returns_table
from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import BacktestResult, horizon_columns, run_backtest, signal_bars
from backtests.pipeline.metrics import performance, trade_stats
from backtests.settings.strategy import is_portfolio, strategy_class_and_params
from backtests.stages.forecasts import Forecasts
from backtests.stages.markets import Markets
from backtests.stages.portfolio import trade_portfolio
from backtests.stages.risk import RiskForecasts
from backtests.stages.sentiment import Sentiment
from backtests.stages.traded import Traded
from strategies.buy_and_hold import BuyAndHold

log = logging.getLogger(__name__)


def trade_stage(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, risk: RiskForecasts,
                sentiment: Sentiment | None) -> Traded | None:
    """Trade the configured strategy on the engine it needs; None: a universe with a strategy
    that trades one ticker (nothing traded)."""
    cls, _ = strategy_class_and_params(cfg.strategy)
    if is_portfolio(cls):
        return trade_portfolio(cfg, loaded, forecasts, risk, sentiment)
    if loaded.single:
        return trade_ticker(cfg, loaded, forecasts, risk)
    log.info("no portfolio backtest: strategy %s trades one ticker (strategy=topk or "
             "strategy=market_neutral trade the universe)", cls.__name__)
    return None


def trade_ticker(cfg: DictConfig, loaded: Markets, forecasts: Forecasts,
                 risk: RiskForecasts) -> Traded:
    """The strategy and buy-and-hold on one ticker, from the first forecast date (no risk rules
    for buy-and-hold)."""
    cls, params = strategy_class_and_params(cfg.strategy)
    broker: BrokerSettings = instantiate(cfg.broker)
    rules = instantiate(cfg.get("risk"))  # strategies.risk.RiskRules, or None without the group
    bars = ticker_bars(cfg, loaded, forecasts, risk, rules)
    assert forecasts.run is not None
    start = forecasts.run.predictions.index[0]
    result = run_backtest(bars, cls, params, broker, start, rules)
    bench = run_backtest(bars, BuyAndHold, {}, broker, start, risk=None)
    periods = int(cfg.report.periods_per_year)
    strategy = {**figures(result, periods), "uses_forecast": bool(cls.uses_forecast)}
    benchmark = figures(bench, periods)
    strategy["excess_total_return"] = strategy["total_return"] - benchmark["total_return"]
    return Traded({"strategy": strategy, "benchmark": benchmark},
                  returns_table(result.returns, bench.returns), result.trades, cls.__name__,
                  ticker=result, ticker_benchmark=bench)


def ticker_bars(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, risk: RiskForecasts,
                rules: Any) -> pd.DataFrame:
    """The bars the strategy trades on one ticker (the backtest's, and mode=predict's): prices,
    the forecast, the risk head's volatility and a distribution strategy's horizon columns."""
    _, params = strategy_class_and_params(cfg.strategy)
    market = loaded.market
    assert forecasts.run is not None
    predictions = forecasts.run.predictions
    horizon = int(params.get("horizon", 1))  # a distribution strategy's h (lstm_probability)
    return signal_bars(market.frame, predictions["forecast"], rules, risk.frame(market.ticker),
                       horizon_columns(predictions, horizon))


def figures(result: BacktestResult, periods: int) -> dict:
    """Performance from the daily returns, then the trades' and exposure's figures."""
    return {**performance(result.returns, periods),
            **trade_stats(result.trades, result.in_market, result.equity, periods)}
