"""Beside a universe's portfolio: per-ticker risk forecasts, the portfolio's VaR and ES for the weights
it holds with each ticker's Euler contribution, and the market-sentiment index with its judgement.

The per-ticker risk forecasts and the sentiment index are known before the portfolio trades (the
forecast volatility may size it, the sentiment may scale its exposure); the portfolio's own VaR
needs its holdings, so it is finished after the backtest.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.atomic import write_csv
from backtests.data.base import MarketData
from backtests.pipeline.portfolio import PortfolioResult
from backtests.pipeline.risk import RiskRun, tally_backtests
from backtests.pipeline.universe import closes_panel
from backtests.pipeline.universe_risk import universe_risk, universe_var_table, vol_panel
from backtests.stages.timings import Timings
from forecasting.risk.walkforward import RiskSettings

log = logging.getLogger(__name__)


@dataclass
class Extras:
    """Risk forecasts and sentiment of a universe, ready before the portfolio trades."""

    settings: RiskSettings | None
    runs: dict[str, RiskRun]
    sentiment: pd.DataFrame | None      # sentiment.csv: the index and the outcomes it is judged on
    sentiment_block: dict[str, Any] | None
    regime: pd.Series | None            # exposure scale by date for the regime filter, or None

    @property
    def forecast_volatility(self) -> pd.DataFrame | None:
        """date x ticker: the LSTM risk head's next-day volatility (risk.vol_source=forecast)."""
        return vol_panel(self.runs).get("lstm")

    def finish(self, result: PortfolioResult | None, closes: pd.DataFrame, out: Path,
               metrics: dict[str, Any], title: str, plots: bool) -> None:
        """Write sentiment.csv and var.csv (the portfolio's rows when one traded), fill the blocks."""
        if self.sentiment is not None:
            write_csv(out / "sentiment.csv", sentiment_columns(self.sentiment), index_label="date",
                      date_format="%Y-%m-%d", float_format="%.8g")
            metrics["sentiment"] = self.sentiment_block
            if plots:
                from backtests.outputs.figures.sentiment import write_sentiment_plot

                write_sentiment_plot(out / "sentiment.png", self.sentiment, title)
        if self.settings is not None and self.runs:
            metrics["risk"] = self._risk(result, closes, out, title, plots)

    def _risk(self, result: PortfolioResult | None, closes: pd.DataFrame, out: Path, title: str,
              plots: bool) -> dict[str, Any]:
        from forecasting.risk.evaluation import backtest_table

        assert self.settings is not None
        levels = list(self.settings.levels)
        frame = contributions = None
        if result is not None:
            frame, contributions = book_risk(result, closes, vol_panel(self.runs), levels)
        var = universe_var_table(self.runs, frame, levels)
        tables = [backtest_table(var[var["asset"] == asset], levels, asset)
                  for asset in dict.fromkeys(var["asset"])]
        backtests = pd.concat(tables, ignore_index=True)
        write_csv(out / "var.csv", var, index=False, date_format="%Y-%m-%d")
        write_csv(out / "var_backtests.csv", backtests, index=False, float_format=None)
        per_ticker = tally_backtests(backtests[backtests["asset"] != "portfolio"])
        if contributions is None or frame is None or frame.empty:
            flat = result is not None  # traded, yet never held a position: nothing to forecast
            return {"per_ticker": per_ticker, "levels": levels,
                    **({"verdict": "the portfolio never held a position: no VaR to backtest"}
                       if flat else {})}
        write_csv(out / "risk_contributions.csv", contributions, index=False, date_format="%Y-%m-%d",
                  float_format="%.8g")
        return {**self._portfolio_block(var, backtests, contributions, levels, out, title, plots),
                "per_ticker": per_ticker}

    def _portfolio_block(self, var: pd.DataFrame, backtests: pd.DataFrame,
                         contributions: pd.DataFrame, levels: list[float], out: Path, title: str,
                         plots: bool) -> dict[str, Any]:
        from forecasting.risk.evaluation import risk_block
        from forecasting.risk.portfolio import contribution_shares

        portfolio_rows = var[var["asset"] == "portfolio"]
        block = risk_block(portfolio_rows, backtests[backtests["asset"] == "portfolio"], levels)
        methods = list(dict.fromkeys(contributions["method"]))
        if not methods:
            return block
        method = "lstm" if "lstm" in methods else str(methods[0])
        shares = contribution_shares(contributions, method)
        latest = shares.iloc[-1] if len(shares) else pd.Series(dtype=float)
        block["contributions"] = {"method": method, "date": None if not len(shares) else
                                  shares.index[-1].date().isoformat(),
                                  "latest": {str(t): float(v) for t, v in
                                             latest.sort_values(ascending=False).items() if v != 0},
                                  "mean": {str(t): float(v) for t, v in
                                           shares.mean().sort_values(ascending=False).items()}}
        if plots:
            from backtests.outputs.figures.portfolio_risk import write_contribution_plot
            from backtests.outputs.figures.risk import write_risk_plot

            write_risk_plot(out / "risk.png", portfolio_rows, f"{title} · portfolio")
            smooth = shares.rolling(21, min_periods=1).mean()  # names rotate: a month's mean reads
            write_contribution_plot(out / "risk_contributions.png", smooth, latest,
                                    f"{title} · contributions to the portfolio's risk ({method})")
        return block


def ticker_returns(closes: pd.DataFrame) -> pd.DataFrame:
    """date x ticker daily log returns, each on its own ticker's calendar: the move across a day
    a ticker has no bar lands on its next bar (a plain diff on the union calendar would lose it)."""
    return np.log(closes.ffill()).diff().where(closes.notna())


def book_risk(result: PortfolioResult, closes: pd.DataFrame, vols: Mapping[str, pd.DataFrame],
              levels: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The portfolio's risk forecasts and Euler contributions on the days it holds something.

    Each row is made at a close for the weights held then, and judged on the portfolio's return
    over the next day. A flat book's VaR is 0 and never exceeded: counting those days would
    flatter every coverage test, so they are left out (before the first fill, and whenever the
    book is flat).
    """
    from forecasting.risk.portfolio import portfolio_risk

    holdings = result.holdings.reindex(columns=sorted(closes.columns), fill_value=0.0).fillna(0.0)
    realised = np.log1p(result.returns).shift(-1)  # held over the next day, by decision date
    frame, contributions = portfolio_risk(holdings, vols, ticker_returns(closes), realised, levels)
    held = holdings.index[holdings.abs().sum(axis=1) > 0]
    return frame[frame.index.isin(held)], contributions[contributions["date"].isin(held)]


def sentiment_columns(table: pd.DataFrame) -> pd.DataFrame:
    """sentiment.csv's column order: breadth, mean_forecast, dispersion, then the rest."""
    first = ["breadth", "mean_forecast", "dispersion"]
    return table[first + [c for c in table.columns if c not in first]]


def risk_and_sentiment(cfg: DictConfig, markets: Mapping[str, MarketData], long: pd.DataFrame,
                       timings: Timings, settings: RiskSettings | None,
                       forecasts_returns: bool = True) -> Extras:
    """Per-ticker risk forecasts (cached, like single runs') and the sentiment index.

    The index reads the forecasts as returns (up or down, by how much): forecasts that are
    cross-sectional ranks (universe.target=csrank) say nothing about the market, so no index.
    """
    runs: dict[str, RiskRun] = {}
    if settings is not None:
        with timings.stage("risk forecasts"):
            runs = universe_risk(cfg, markets, settings, int(cfg.universe.n_jobs))
    table = block = regime = None
    node = cfg.get("sentiment")
    sentiment = instantiate(node) if node is not None else None
    if sentiment is not None and sentiment.enabled and not forecasts_returns:
        log.info("sentiment: no index, the forecasts are cross-sectional ranks, not returns")
    elif sentiment is not None and sentiment.enabled:
        with timings.stage("sentiment"):
            table, block = sentiment.evaluate(long, closes_panel(markets))
            block["settings"] = {"dead_band": sentiment.dead_band, "week": sentiment.week}
            regime = sentiment.scale(table)
        log.info("sentiment: %s", block["verdict"])
    return Extras(settings, runs, table, block, regime)
