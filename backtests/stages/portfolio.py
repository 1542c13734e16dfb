"""A universe run's trading part: the portfolio strategy, its equal-weight benchmark, the portfolio's
risk forecasts and the market-sentiment index, written beside the forecasts' scores.

Everything trades through the same backtrader engine and costs: the strategy (topk,
market_neutral) over one feed per ticker, and the universe's equal-weight buy-and-hold, rebalanced
monthly, over the same test period. Risk forecasts per ticker come from the single-run risk
walk-forward (and its cache); the portfolio's VaR and ES combine them for the weights it holds.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.atomic import write_csv
from backtests.data.base import MarketData
from backtests.errors import UserError
from backtests.outputs.figures.portfolio import write_portfolio_plot
from backtests.outputs.tearsheet import write_tearsheet
from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import horizon_columns
from backtests.pipeline.metrics import performance, trade_stats
from backtests.pipeline.portfolio import PortfolioResult, run_portfolio
from backtests.settings.strategy import strategy_class_and_params
from backtests.stages.forecasts import Forecasts
from backtests.stages.markets import Markets
from backtests.stages.risk import RiskForecasts
from backtests.stages.sentiment import Sentiment
from backtests.stages.traded import Traded
from strategies.portfolio.equal_weight import EqualWeight
from strategies.portfolio.market_neutral import MarketNeutral

log = logging.getLogger(__name__)

# The rules a run may switch on (their look-backs and the like are shown only through them).
RULES = ("stop_loss", "take_profit", "trailing_stop", "atr_stop", "max_weight", "max_gross", "max_net",
         "vol_target", "max_drawdown")
HISTORY = 300  # bars kept before the first forecast: room for volatility and correlation look-backs


def needed_names(cls: Any, params: Mapping[str, Any]) -> int:
    """How many tickers the strategy needs at least (k longs, and k shorts when market neutral)."""
    defaults = dict(zip(cls.params._getkeys(), cls.params._getdefaults(), strict=True))
    k = int(params.get("k", defaults.get("k") or 1))
    return 2 * k if issubclass(cls, MarketNeutral) else k


def pivot_forecasts(long: pd.DataFrame) -> pd.DataFrame:
    """date x ticker forecasts (each known at the close of its date)."""
    return long.pivot(index="date", columns="ticker", values="forecast").sort_index()


def trading_bars(markets: Mapping[str, MarketData], forecasts: pd.DataFrame,
                 volatility: pd.DataFrame | None, start: pd.Timestamp,
                 distributions: Mapping[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """Each ticker's bars with its `signal` (and forecast `volatility`, and with a distribution
    forecaster its 1-session `p_up`, `mean`, `scale`, `df`), from HISTORY bars before start."""
    bars = {}
    for ticker, market in sorted(markets.items()):
        frame = market.frame[["Open", "High", "Low", "Close", "Volume"]]
        first = max(0, int(frame.index.searchsorted(start)) - HISTORY)
        frame = frame.iloc[first:].copy()
        frame["signal"] = (forecasts[ticker].reindex(frame.index) if ticker in forecasts
                           else np.nan)
        if volatility is not None:
            frame["volatility"] = (volatility[ticker].reindex(frame.index)
                                   if ticker in volatility else np.nan)
        made = (distributions or {}).get(ticker)
        columns = horizon_columns(made, 1) if made is not None else None
        if columns is not None:
            frame = frame.join(columns.reindex(frame.index))
        bars[ticker] = frame
    return bars


def portfolio_inputs(cfg: DictConfig, markets: Mapping[str, MarketData], long: pd.DataFrame,
                     forecast_volatility: pd.DataFrame | None,
                     distributions: Mapping[str, pd.DataFrame] | None = None
                     ) -> tuple[dict[str, pd.DataFrame], pd.Timestamp, Any]:
    """(each ticker's bars, the first forecast date, the risk rules) a portfolio run trades; the
    LSTM's volatility forecasts ride along only when the rules size on them (vol_source=forecast)."""
    rules = instantiate(cfg.get("risk"))
    forecasts = pivot_forecasts(long)
    start = forecasts.index[0]
    sized = getattr(rules, "vol_source", None) == "forecast"
    bars = trading_bars(markets, forecasts, forecast_volatility if sized else None, start,
                        distributions)
    return bars, start, rules


def portfolio_figures(result: PortfolioResult, periods: int) -> dict[str, Any]:
    """Performance from the daily returns (as returns.csv holds them), trades, exposure, turnover."""
    figures: dict[str, Any] = {**performance(result.returns, periods),
                               **trade_stats(result.trades, result.in_market, result.equity, periods)}
    holdings = result.holdings
    figures["turnover"] = turnover(result.traded, result.equity, periods)
    figures["gross_mean"] = float(holdings.abs().sum(axis=1).mean())
    figures["net_mean"] = float(holdings.sum(axis=1).mean())
    figures["names_mean"] = float((holdings != 0).sum(axis=1).mean())
    figures["rebalances"] = int(len(result.weights))  # rebalance decisions, traded or not
    return figures


def turnover(traded: pd.Series, equity: pd.Series, periods: int) -> float:
    """Value traded (every fill: rebalances, stops, the breaker) over average equity, per year:
    the single-ticker runs' definition, so the two compare."""
    if len(equity) == 0:
        return math.nan
    return float(traded.sum()) / float(equity.mean()) * periods / len(equity)


def verdict(strategy: dict[str, Any], bench: dict[str, Any], name: str) -> str:
    """One sentence: the strategy against the equal-weight benchmark, on the same days and costs."""
    if strategy["gross_mean"] == 0:
        return (f"{name} never held a position over the test period (no forecast passed its rules): "
                f"nothing to compare with the equal-weight benchmark's "
                f"{100 * bench['total_return']:+.1f}%.")
    better = strategy["sharpe"] > bench["sharpe"] if all(
        math.isfinite(x) for x in (strategy["sharpe"], bench["sharpe"])) else False
    return (f"{name}: total return {100 * strategy['total_return']:+.1f}%, Sharpe "
            f"{strategy['sharpe']:.2f}, max drawdown {100 * strategy['max_drawdown']:.1f}% against "
            f"the equal-weight benchmark's {100 * bench['total_return']:+.1f}%, "
            f"{bench['sharpe']:.2f}, {100 * bench['max_drawdown']:.1f}% "
            f"({'a higher' if better else 'no higher'} Sharpe ratio over the same days, same costs).")


def member_table(loaded: Markets, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    """date x ticker: who is a member at each close the feeds have (None: everyone, always)."""
    membership = loaded.membership
    if membership is None:
        return None
    dates = pd.DatetimeIndex(sorted(set().union(*(frame.index for frame in bars.values()))))
    return membership.mask(dates, list(bars))


def check_portfolio(cls: type, params: Mapping[str, Any], markets: Mapping[str, MarketData]) -> None:
    """Enough tickers for the strategy, before any backtest runs."""
    needed = needed_names(cls, params)
    if len(markets) < needed:
        raise UserError(f"strategy {cls.__name__} needs at least {needed} tickers but the universe "
                        f"has {len(markets)} usable", "lower strategy.k or add tickers to the universe")


def trade_portfolio(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, risk: RiskForecasts,
                    sentiment: Sentiment | None) -> Traded:
    """Trade the configured portfolio strategy and its equal-weight benchmark."""
    cls, params = strategy_class_and_params(cfg.strategy)
    broker: BrokerSettings = instantiate(cfg.broker)
    periods = int(cfg.report.periods_per_year)
    regime = sentiment.regime if sentiment is not None else None
    bars, start, rules = portfolio_inputs(cfg, loaded.markets, forecasts.long, risk.forecast_volatility,
                                          forecasts.frames)
    members = member_table(loaded, bars)
    result = run_portfolio(bars, cls, {**params, "regime": regime, "members": members}, broker,
                           start, rules)
    bench = run_portfolio(bars, EqualWeight, {"members": members}, broker, start, None)
    name = cls.__name__
    strategy, benchmark = portfolio_figures(result, periods), portfolio_figures(bench, periods)
    excess = strategy["total_return"] - benchmark["total_return"]
    block = {"strategy_name": name, "excess_total_return": excess,
             "verdict": verdict(strategy, benchmark, name),
             "how": how_text(cls, params, rules, broker, regime is not None),
             "regime_filter": regime is not None}
    # `strategy` and `benchmark` at the top, as a single run has them: one reader for both kinds.
    metrics = {"strategy": {**strategy, "uses_forecast": True, "excess_total_return": excess},
               "benchmark": benchmark, "portfolio": block}
    returns = pd.DataFrame({"strategy": result.returns, "benchmark": bench.returns})
    return Traded(metrics, returns, result.trades, name, book=result, book_benchmark=bench)


def write_portfolio_files(cfg: DictConfig, out: Path, traded: Traded, title: str) -> None:
    """returns.csv, trades.csv, weights.csv, holdings.csv, the equity figure and the tearsheet."""
    result, bench = traded.book, traded.book_benchmark
    assert result is not None and bench is not None and traded.returns is not None
    name = traded.name
    write_csv(out / "returns.csv", traded.returns, index_label="date", date_format="%Y-%m-%d")
    write_csv(out / "trades.csv", result.trades, index=False, date_format="%Y-%m-%d")
    write_csv(out / "weights.csv", result.weights, index_label="date", date_format="%Y-%m-%d",
              float_format="%.6f")
    write_csv(out / "holdings.csv", result.holdings, index_label="date", date_format="%Y-%m-%d",
              float_format="%.6f")
    if cfg.report.plots:
        equity = pd.DataFrame({name: result.equity, "equal weight": bench.equity})
        write_portfolio_plot(out / "portfolio.png", equity, result.holdings, title)
    if cfg.report.tearsheet:
        shown = (traded.metrics["strategy"]["time_in_market"],
                 traded.metrics["benchmark"]["time_in_market"])
        write_tearsheet(out / "tearsheet.html", result.returns, bench.returns,
                        f"{title} · {name} vs equal weight", int(cfg.report.periods_per_year),
                        "Equal weight", shown)


def how_text(cls: type, params: Mapping[str, Any], rules: Any, broker: BrokerSettings,
             regime: bool) -> str:
    """How the portfolio traded, in a sentence or two (the settings, the timing, the costs)."""
    settings = ", ".join(f"{k}={'null' if v is None else v}" for k, v in sorted(params.items()))
    active = {k: getattr(rules, k) for k in RULES if getattr(rules, k, None) is not None}
    if "vol_target" in active or params.get("weighting") == "inverse_vol":
        active["vol_source"] = getattr(rules, "vol_source", "realised")
    return (f"{cls.__name__} ({settings}); risk rules: "
            f"{', '.join(f'{k}={v}' for k, v in active.items()) or 'none'}"
            f"{'; gross exposure scaled by the sentiment regime filter' if regime else ''}. "
            f"Targets are decided at a close from the forecasts known then and filled at the next "
            f"open; commission {broker.commission:g} of value, slippage {broker.slippage:g}. The "
            f"benchmark holds every ticker at equal weight, rebalanced on the first session of each "
            f"month, through the same engine with the same costs."
            + (" A dollar-neutral book earns no market return: judge it by its own Sharpe ratio and "
               "drawdown, not by its return beside the long-only benchmark."
               if issubclass(cls, MarketNeutral) else ""))
