"""The risk stage: every ticker's out-of-sample risk forecasts (VaR, ES, volatility), and after the
trade the book's own; var.csv, var_backtests.csv and the metrics `risk` block.

Each ticker's come from the risk walk-forward and its cache (a single run and a universe run share
the entries). A single run's var.csv holds its ticker's rows; a universe's every ticker's and,
when a portfolio traded, the book's for the weights it held, with each ticker's Euler contribution.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from backtests.atomic import write_csv
from backtests.pipeline.portfolio import PortfolioResult
from backtests.pipeline.risk import RiskRun, risk_results, tally_backtests, walk_forward_risk
from backtests.pipeline.universe_risk import universe_risk, universe_var_table, vol_panel
from backtests.stages.forecasts import Forecasts
from backtests.stages.markets import Markets
from forecasting.risk.walkforward import RiskSettings


@dataclass
class RiskForecasts:
    """What the risk stage hands on: the settings and {ticker: risk walk-forward} (empty: off)."""

    settings: RiskSettings | None = None
    runs: dict[str, RiskRun] = field(default_factory=dict)

    @property
    def on(self) -> bool:
        return self.settings is not None and bool(self.runs)

    @property
    def forecast_volatility(self) -> pd.DataFrame | None:
        """date x ticker: the LSTM risk head's next-day volatility (risk.vol_source=forecast)."""
        return vol_panel(self.runs).get("lstm")

    def frame(self, ticker: str) -> pd.DataFrame | None:
        """One ticker's risk forecasts (a row per method and day), or None when switched off."""
        run = self.runs.get(ticker)
        return None if run is None else run.frame


def risk_stage(cfg: DictConfig, loaded: Markets, settings: RiskSettings | None,
               forecasts: Forecasts | None = None, use_cache: bool = True,
               until: pd.Timestamp | None = None,
               ready: Mapping[str, pd.DataFrame] | None = None) -> RiskForecasts:
    """Every ticker's risk forecasts (cache hits read here, misses fanned out for a universe).
    With a distribution forecaster the `lstm` method reads its forecasts (no network of its own),
    a global universe's the global model's 1-session distribution (forecasting/universe/distribution.py).
    `ready`: rows of some methods the background worker computed (stages/prefetch.py), by ticker."""
    if settings is None:
        return RiskForecasts()
    given = {t: forecasts.risk_input(t) if forecasts is not None else None for t in loaded.markets}
    source = forecasts.source if forecasts is not None else None  # the global model's forecasts
    if loaded.single or until is not None or not use_cache:
        runs = {t: walk_forward_risk(cfg, m, settings, use_cache=use_cache, until=until,
                                     distribution=given[t], ready=(ready or {}).get(t),
                                     source=source)
                for t, m in sorted(loaded.markets.items())}
    else:
        runs = universe_risk(cfg, loaded.markets, settings, int(cfg.universe.n_jobs), given, source)
    return RiskForecasts(settings, runs)


def write_ticker_risk(out: Path, risk: RiskForecasts, ticker: str) -> tuple[pd.DataFrame, dict]:
    """A single run's var.csv and var_backtests.csv; (var.csv's table, the `risk` block)."""
    var, backtests, block = risk_results(risk.runs[ticker], ticker)
    write_csv(out / "var.csv", var, index=False, date_format="%Y-%m-%d")
    write_csv(out / "var_backtests.csv", backtests, index=False, float_format=None)
    return var, block


def write_universe_risk(out: Path, risk: RiskForecasts, result: PortfolioResult | None,
                        closes: pd.DataFrame, title: str, plots: bool) -> dict[str, Any]:
    """A universe's var.csv (every ticker, and the book when one traded), var_backtests.csv,
    risk_contributions.csv; the `risk` block."""
    from forecasting.risk.evaluation import backtest_table

    assert risk.settings is not None
    levels = list(risk.settings.levels)
    frame = contributions = None
    if result is not None:
        frame, contributions = book_risk(result, closes, vol_panel(risk.runs), levels)
    var = universe_var_table(risk.runs, frame, levels)
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
    return {**_book_block(var, backtests, contributions, levels, out, title, plots),
            "per_ticker": per_ticker}


def _book_block(var: pd.DataFrame, backtests: pd.DataFrame, contributions: pd.DataFrame,
                levels: list[float], out: Path, title: str, plots: bool) -> dict[str, Any]:
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
