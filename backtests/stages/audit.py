"""`mode=audit`: replay the run chain on an altered future and prove that nothing before it moved.

For each cutoff one ticker's bars after the cutoff follow another (valid) random path: the only
ticker of a single run, a different member of a universe at each cutoff. The chain's stages run
again on the altered data up to the cutoff (the forecasts and risk forecasts afresh, never from
the cache), and every stage's output is compared with the original's on every date up to the
cutoff: the features, the market-wide inputs, the forecasts of every ticker, the risk forecasts,
the sentiment index, what was decided and held (a ticker's position and closed trades, a book's
targets and weights) and the book's risk forecasts. Any difference is look-ahead.

Outcomes that are the future by design (a VaR's realised return, the sentiment's next-day market
return, a trade the end of the data closed) are left out of the comparison.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.pipeline.risk import walk_forward_risk
from backtests.pipeline.universe import market_inputs
from backtests.pipeline.universe_risk import vol_panel
from backtests.stages.chain import Settings
from backtests.stages.distribution import distribution_stage
from backtests.stages.forecasts import Forecasts, forecast_stage
from backtests.stages.journal import entry_table
from backtests.stages.lookahead import (
    Finding,
    cutoff_dates,
    day_text,
    first_difference,
    risk_by_date,
    verdict,
)
from backtests.stages.markets import Markets, load_markets
from backtests.stages.risk import RiskForecasts, book_risk, risk_stage
from backtests.stages.sentiment import sentiment_stage
from backtests.stages.trade import trade_stage
from backtests.stages.traded import Traded

log = logging.getLogger(__name__)


OUTCOMES = ("next_day_return", "next_week_return", "realised_breadth")  # the sentiment's future


def _risk_frame(risk: RiskForecasts) -> pd.DataFrame:
    """Every ticker's risk forecasts by date, a column per (ticker, measure, method)."""
    return pd.concat({t: risk_by_date(run.frame) for t, run in risk.runs.items()}, axis=1)


@dataclass
class Replay:
    """Every stage's output by date for one version of the data (the audit compares two)."""

    loaded: Markets
    forecasts: Forecasts
    risk: RiskForecasts
    traded: Traded | None
    outputs: dict[str, pd.DataFrame] = field(default_factory=dict)


RiskFor = Callable[[Forecasts], RiskForecasts]


def replay(cfg: DictConfig, settings: Settings, loaded: Markets, risk_for: RiskFor,
           use_cache: bool, until: pd.Timestamp | None = None) -> Replay:
    """The chain's stages after the load, on `loaded`; the outputs each makes, by date.
    `until`: the forecasts stop after the fold holding that date; `risk_for(forecasts)`: the
    risk stage (a distribution forecaster's `lstm` risk reads its forecasts)."""
    forecasts = forecast_stage(cfg, loaded, settings.reads_forecasts(loaded), explain=False,
                               use_cache=use_cache, until=until)
    risk = risk_for(forecasts)
    outputs: dict[str, pd.DataFrame] = {}
    if loaded.universe is not None:
        inputs = market_inputs(loaded.universe, loaded.markets)
        if inputs is not None:
            outputs["market inputs"] = inputs
    outputs["forecasts"] = forecasts.by_date()
    outputs["journal entries"] = entry_table(loaded, forecasts)  # what an entry at each close holds
    distributions = distribution_stage(cfg, loaded, forecasts, use_cache=use_cache, until=until)
    if distributions is not None:  # every horizon's, every method's (not the outcomes)
        outputs["forecast distributions"] = distributions.by_date()
    if risk.on:
        outputs["risk forecasts"] = _risk_frame(risk)
    sentiment = sentiment_stage(cfg, loaded, forecasts)
    if sentiment is not None:
        outputs["sentiment index"] = sentiment.table.drop(columns=list(OUTCOMES))
    traded = trade_stage(cfg, loaded, forecasts, risk, sentiment)
    if traded is not None:
        outputs.update(traded.by_date())
        if traded.book is not None and risk.on:
            assert risk.settings is not None
            frame, _ = book_risk(traded.book, loaded.closes(), vol_panel(risk.runs),
                                 list(risk.settings.levels))
            outputs["portfolio risk forecasts"] = risk_by_date(frame.drop(columns="realised"))
    return Replay(loaded, forecasts, risk, traded, outputs)


def first_trade_difference(before: pd.DataFrame, after: pd.DataFrame) -> pd.Timestamp | None:
    """Exit date of the first closed trade that differs (or exists in one run only)."""
    for i in range(max(len(before), len(after))):
        if i >= len(before) or i >= len(after) or not before.iloc[i].equals(after.iloc[i]):
            row = before.iloc[i] if i < len(before) else after.iloc[i]
            return pd.Timestamp(row["exit_date"])
    return None


class Audit:
    """The original chain's outputs, and the comparison of any altered replay with them."""

    def __init__(self, cfg: DictConfig, atol: float) -> None:
        self.cfg, self.atol = cfg, atol
        self.settings = Settings.check(cfg)
        self.loaded = load_markets(cfg)
        self.settings.check_markets(self.loaded)
        # A universe's cached forecasts may come from worker processes whose thread counts sum
        # floats in another order: its baseline is computed here, as every replay is.
        self.base = self.replay(
            self.loaded, lambda made: risk_stage(cfg, self.loaded, self.settings.risk, made),
            use_cache=self.loaded.single)
        # After the forecasts: a feature that needs the future is refused there, as a user error.
        self.features = {t: instantiate(cfg.features)(m.frame) for t, m in self.loaded.markets.items()}

    def replay(self, loaded: Markets, risk_for: RiskFor, use_cache: bool = False,
               until: pd.Timestamp | None = None) -> Replay:
        return replay(self.cfg, self.settings, loaded, risk_for, use_cache, until)

    @property
    def checked(self) -> list[str]:
        """What every cutoff compares, in the chain's order."""
        return ["features", *self.base.outputs, *(["trades"] if self._trades else [])]

    @property
    def _trades(self) -> bool:
        return self.base.traded is not None and self.base.traded.ticker is not None

    def cutoff(self, cutoff: pd.Timestamp, ticker: str, seed: int) -> list[Finding]:
        """Alter `ticker` after `cutoff`, replay the chain up to it, and name what changed."""
        altered = self.loaded.altered(ticker, cutoff, seed)
        whose = "" if self.loaded.single else f" after altering {ticker}"
        findings: list[Finding] = []
        before = self.features[ticker].loc[:cutoff]
        after = instantiate(self.cfg.features)(altered.markets[ticker].frame).loc[:cutoff]
        date = first_difference(before, after, self.atol)
        if date is not None:
            changed = [c for c in before.columns
                       if first_difference(before[c], after[c], self.atol) is not None]
            where = "" if self.loaded.single else f" of {ticker}"
            findings.append(Finding(cutoff, "features", date, f"changed: {', '.join(changed)}{where}"))
        base = self.base.risk

        def risk_for(made: Forecasts) -> RiskForecasts:
            """The altered ticker's risk forecasts afresh up to the cutoff; the others' as they were."""
            if not base.on:
                return base
            assert base.settings is not None
            again = walk_forward_risk(self.cfg, altered.markets[ticker], base.settings,
                                      use_cache=False, until=cutoff,
                                      distribution=made.risk_input(ticker))
            return RiskForecasts(base.settings, {**base.runs, ticker: again})

        rerun = self.replay(altered, risk_for, until=cutoff)
        for what, original in self.base.outputs.items():
            label = first_difference(original.loc[:cutoff], rerun.outputs[what].loc[:cutoff],
                                     self.atol)
            if label is not None:
                date, detail = (label[0], f"of {label[1]}") if isinstance(label, tuple) else (label, "")
                findings.append(Finding(cutoff, what, pd.Timestamp(date),
                                        f"{detail}{whose}".strip()))
        if self._trades:
            assert self.base.traded is not None and rerun.traded is not None
            closed = self.base.traded.closed_trades(cutoff)
            closed_after = rerun.traded.closed_trades(cutoff)
            date = first_trade_difference(closed, closed_after)
            if date is not None:
                findings.append(Finding(cutoff, "trades", date,
                                        f"{len(closed)} vs {len(closed_after)} closed"))
        return findings


def run_audit(cfg: DictConfig, cutoffs: int, atol: float) -> float:
    """Audit the configured run; exit status 1 and the first offending date on FAIL."""
    audit = Audit(cfg, atol)
    loaded = audit.loaded
    dates = audit.base.forecasts.long["date"]
    picks = cutoff_dates(pd.DatetimeIndex(sorted(dates.unique())), cutoffs)
    tickers = sorted(loaded.markets)
    findings: list[Finding] = []
    altered = []
    for number, cutoff in enumerate(picks):
        ticker = tickers[number % len(tickers)]
        altered.append(ticker)
        log.info("audit: cutoff %d/%d at %s: altering %s after it (%d bars) and replaying the chain",
                 number + 1, len(picks), cutoff.date(), ticker,
                 int((loaded.markets[ticker].frame.index > cutoff).sum()))
        found = audit.cutoff(cutoff, ticker, seed=int(cfg.seed) + 1000 + number)
        for item in found:
            log.error("audit: %s up to %s changed when the future was altered; first on %s %s",
                      item.what, cutoff.date(), day_text(item.first_date), item.detail)
        findings += found
    facts = ({"data": loaded.market.summary()} if loaded.single else
             {"model": loaded.universe.model if loaded.universe else None, "tickers": tickers,
              "left_out": loaded.left_out})
    checked = audit.checked
    return verdict(Path(cfg.paths.output_dir), findings, picks, checked,
                   {**facts, "altered": altered}, ", ".join(checked),
                   "the data" if loaded.single else "one ticker's data")
