"""`mode=audit`: prove that altering the future changes nothing before it.

For several cutoff dates the data after the cutoff is replaced by a different (valid) future; the
features, the walk-forward forecasts and the strategy's closed trades are recomputed and compared
with the originals on every date up to the cutoff. Any difference is look-ahead: a feature, scaler
or fitted statistic that saw data from after its own date. Runs on the user's own settings.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.data.base import MarketData
from backtests.data.universe import is_universe_run
from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import run_backtest, signal_bars
from backtests.pipeline.forecasts import scheduled_outcomes, walk_forward_forecasts
from backtests.pipeline.risk import risk_settings, walk_forward_risk
from backtests.settings.strategy import strategy_class_and_params
from backtests.stages.lookahead import (
    Finding,
    alter_after,
    cutoff_dates,
    day_text,
    first_difference,
    risk_by_date,
    verdict,
)

log = logging.getLogger(__name__)


def _trades_before(trades: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    closed = trades[(pd.to_datetime(trades["exit_date"]) <= cutoff)
                    & (trades["exit_reason"] != "end_of_data")]
    return closed.reset_index(drop=True)


@dataclass
class Baseline:
    """What the unaltered data gives, computed once and compared with every altered copy."""

    features: pd.DataFrame
    forecasts: pd.DataFrame
    trades: pd.DataFrame
    risk: pd.DataFrame | None = None  # risk forecasts by date, a column per (measure, method)


class _Backtest:
    """The configured strategy, costs and risk rules, ready to trade any prices and forecasts."""

    def __init__(self, cfg: DictConfig, start: pd.Timestamp) -> None:
        self.cls, self.params = strategy_class_and_params(cfg.strategy)
        self.broker: BrokerSettings = instantiate(cfg.broker)
        self.risk = instantiate(cfg.get("risk"))  # stops and breakers must not see the future either
        self.start = start

    def trades(self, market: MarketData, forecasts: pd.DataFrame,
               risk_forecasts: pd.DataFrame | None = None) -> pd.DataFrame:
        bars = signal_bars(market.frame, forecasts["forecast"], self.risk, risk_forecasts)
        return run_backtest(bars, self.cls, self.params, self.broker, self.start, self.risk).trades


def _first_trade_difference(before: pd.DataFrame, after: pd.DataFrame) -> pd.Timestamp | None:
    """Exit date of the first closed trade that differs (or exists in one run only)."""
    for i in range(max(len(before), len(after))):
        if i >= len(before) or i >= len(after) or not before.iloc[i].equals(after.iloc[i]):
            row = before.iloc[i] if i < len(before) else after.iloc[i]
            return pd.Timestamp(row["exit_date"])
    return None


def _forecasts(cfg: DictConfig, market: MarketData, reads: bool, use_cache: bool = True,
               until: pd.Timestamp | None = None) -> pd.DataFrame:
    """The walk-forward's forecasts, or for a strategy that reads none its test dates alone (as the
    backtest makes them: nothing is trained, and the audit compares the NaN forecasts it holds)."""
    if reads:
        return walk_forward_forecasts(cfg, market, use_cache=use_cache, until=until).predictions
    return scheduled_outcomes(cfg, market).predictions


def audit_cutoff(cfg: DictConfig, market: MarketData, baseline: Baseline, backtest: _Backtest,
                 cutoff: pd.Timestamp, seed: int, atol: float) -> list[Finding]:
    """Compare features, forecasts and closed trades up to `cutoff` against an altered future."""
    altered = alter_after(market, cutoff, seed)
    findings: list[Finding] = []
    before = baseline.features.loc[:cutoff]
    after = instantiate(cfg.features)(altered.frame).loc[:cutoff]
    date = first_difference(before, after, atol)
    if date is not None:
        changed = [c for c in before.columns
                   if first_difference(before[c], after[c], atol) is not None]
        findings.append(Finding(cutoff, "features", date, f"changed: {', '.join(changed)}"))
    rerun = _forecasts(cfg, altered, bool(backtest.cls.uses_forecast), use_cache=False, until=cutoff)
    date = first_difference(baseline.forecasts["forecast"].loc[:cutoff],
                            rerun["forecast"].loc[:cutoff], atol)
    if date is not None:
        findings.append(Finding(cutoff, "forecasts", date))
    risk_rerun = None
    if baseline.risk is not None:
        settings = risk_settings(cfg)
        assert settings is not None  # the baseline has risk forecasts only when they are enabled
        risk_rerun = walk_forward_risk(cfg, altered, settings, use_cache=False, until=cutoff).frame
        date = first_difference(baseline.risk.loc[:cutoff], risk_by_date(risk_rerun).loc[:cutoff],
                                atol)
        if date is not None:
            findings.append(Finding(cutoff, "risk forecasts", date))
    closed = _trades_before(baseline.trades, cutoff)
    closed_after = _trades_before(backtest.trades(altered, rerun, risk_rerun), cutoff)
    date = _first_trade_difference(closed, closed_after)
    if date is not None:
        findings.append(Finding(cutoff, "trades", date,
                                f"{len(closed)} vs {len(closed_after)} closed"))
    return findings


def run_audit(cfg: DictConfig, cutoffs: int = 3, atol: float = 0.0) -> float:
    """Audit the configured experiment; exit status 1 and the first offending date on FAIL."""
    if is_universe_run(cfg):  # one ticker altered, every ticker's forecasts compared
        from backtests.stages.universe_audit import run_universe_audit

        return run_universe_audit(cfg, cutoffs, atol)
    market = instantiate(cfg.data).load()
    reads = bool(strategy_class_and_params(cfg.strategy)[0].uses_forecast)
    original = _forecasts(cfg, market, reads)
    backtest = _Backtest(cfg, start=original.index[0])
    settings = risk_settings(cfg)
    risk_frame = walk_forward_risk(cfg, market, settings).frame if settings is not None else None
    baseline = Baseline(features=instantiate(cfg.features)(market.frame), forecasts=original,
                        trades=backtest.trades(market, original, risk_frame))
    if risk_frame is not None:
        baseline.risk = risk_by_date(risk_frame)
    picks = cutoff_dates(original.index, cutoffs)
    findings: list[Finding] = []
    for number, cutoff in enumerate(picks):
        log.info("audit: cutoff %d/%d at %s: altering %d later bars and recomputing", number + 1,
                 len(picks), cutoff.date(), int((market.frame.index > cutoff).sum()))
        found = audit_cutoff(cfg, market, baseline, backtest, cutoff,
                             seed=int(cfg.seed) + 1000 + number, atol=atol)
        for item in found:
            log.error("audit: %s up to %s changed when the future was altered; first on %s %s",
                      item.what, cutoff.date(), day_text(item.first_date), item.detail)
        findings += found
    checked = ["features", "forecasts", *(["risk forecasts"] if baseline.risk is not None else []),
               "trades"]
    return verdict(Path(cfg.paths.output_dir), findings, picks, checked, {"data": market.summary()},
                   ", ".join(checked), "the data")
