"""The universe audit's second half: what a universe run derives from its forecasts must not see the
future either: the altered ticker's risk forecasts, the portfolio's weights at each close, the
portfolio's VaR and ES, and the sentiment index.

Each is recomputed from the altered prices and the forecasts recomputed on them, and compared with
the original up to the cutoff. Outcomes that are the future by design (a VaR's realised return,
the sentiment's next-day market return) are left out of the comparison.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.data.base import MarketData
from backtests.pipeline.portfolio import run_portfolio
from backtests.pipeline.risk import RiskRun, risk_settings, walk_forward_risk
from backtests.pipeline.universe import closes_panel
from backtests.pipeline.universe_risk import universe_risk, vol_panel
from backtests.settings.strategy import is_portfolio, strategy_class_and_params
from backtests.stages.lookahead import Finding, first_difference, risk_by_date
from backtests.stages.portfolio import portfolio_inputs
from backtests.stages.risk_and_sentiment import book_risk

log = logging.getLogger(__name__)


class TradingAudit:
    """Recomputes the universe run's derived outputs for any prices and forecasts."""

    def __init__(self, cfg: DictConfig, markets: Mapping[str, MarketData]) -> None:
        self.cfg = cfg
        self.cls, self.params = strategy_class_and_params(cfg.strategy)
        self.trades = is_portfolio(self.cls)
        self.settings = risk_settings(cfg)
        node = cfg.get("sentiment")
        self.sentiment = instantiate(node) if node is not None else None
        self.runs: dict[str, RiskRun] = (universe_risk(cfg, markets, self.settings,
                                                       int(cfg.universe.n_jobs))
                                         if self.settings is not None else {})
        self.checked = ([*(["risk forecasts"] if self.runs else []),
                         *(["portfolio targets", "portfolio weights"] if self.trades else []),
                         *(["portfolio risk forecasts"] if self.trades and self.runs else []),
                         *(["sentiment index"] if self.sentiment is not None
                           and self.sentiment.enabled else [])])

    def outputs(self, markets: Mapping[str, MarketData], long: pd.DataFrame,
                runs: Mapping[str, RiskRun]) -> dict[str, pd.DataFrame]:
        """Every derived output by date (the columns that are known at that date's close)."""
        found: dict[str, pd.DataFrame] = {}
        if "sentiment index" in self.checked and self.sentiment is not None:
            from forecasting.universe.sentiment import sentiment_index

            found["sentiment index"] = sentiment_index(long, self.sentiment.dead_band,
                                                       self.sentiment.min_tickers)
        if not self.trades:
            return found
        regime = (self.sentiment.scale(found["sentiment index"])
                  if self.sentiment is not None and "sentiment index" in found else None)
        bars, start, rules = portfolio_inputs(self.cfg, markets, long, vol_panel(runs).get("lstm"))
        result = run_portfolio(bars, self.cls, {**self.params, "regime": regime},
                               instantiate(self.cfg.broker), start, rules)
        # The decisions by the close they were made at (a decision at the cutoff close shows in the
        # holdings only a day later), and what was held at each close.
        found["portfolio targets"] = result.targets
        found["portfolio weights"] = result.holdings
        if runs and self.settings is not None:
            frame, _ = book_risk(result, closes_panel(markets), vol_panel(runs),
                                 list(self.settings.levels))
            found["portfolio risk forecasts"] = risk_by_date(frame.drop(columns="realised"))
        return found

    def altered_runs(self, altered: MarketData, cutoff: pd.Timestamp) -> dict[str, RiskRun]:
        """The risk runs with the altered ticker's recomputed up to the cutoff (no cache)."""
        if self.settings is None:
            return {}
        again = walk_forward_risk(self.cfg, altered, self.settings, use_cache=False, until=cutoff)
        return {**self.runs, altered.ticker: again}

    def compare(self, baseline: dict[str, pd.DataFrame], markets: Mapping[str, MarketData],
                long: pd.DataFrame, ticker: str, cutoff: pd.Timestamp, atol: float) -> list[Finding]:
        """Findings for every derived output that differs up to `cutoff` after altering `ticker`."""
        findings = []
        runs = self.altered_runs(markets[ticker], cutoff) if self.runs else {}
        if runs:
            date = first_difference(risk_by_date(self.runs[ticker].frame).loc[:cutoff],
                                    risk_by_date(runs[ticker].frame).loc[:cutoff], atol)
            if date is not None:
                findings.append(Finding(cutoff, "risk forecasts", date, f"of {ticker}"))
        for what, after in self.outputs(markets, long, runs).items():
            date = first_difference(baseline[what].loc[:cutoff], after.loc[:cutoff], atol)
            if date is not None:
                findings.append(Finding(cutoff, what, date, f"after altering {ticker}"))
        return findings
