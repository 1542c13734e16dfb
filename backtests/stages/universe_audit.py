"""`mode=audit` for a universe: alter ONE ticker's prices after a cutoff; no forecast of ANY ticker
at or before the cutoff may change.

A single-ticker audit cannot see leaks across tickers: a global model whose scalers or training
samples reach past the cutoff, or a market-wide input that reads tomorrow's cross-section, changes
the forecasts of the tickers that were not altered. So each cutoff alters a different ticker, the
market-wide inputs and the long-form forecasts (model and ridge) of every ticker are recomputed, and
everything up to the cutoff is compared, bit for bit by default.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from backtests.data.base import MarketData
from backtests.data.universe import Universe
from backtests.pipeline.forecasts import walk_forward_forecasts
from backtests.pipeline.universe import global_forecasts, long_form, market_inputs
from backtests.stages.lookahead import (
    Finding,
    alter_after,
    cutoff_dates,
    day_text,
    first_difference,
    verdict,
)
from backtests.stages.trading_audit import TradingAudit
from backtests.stages.universe import load_universe

log = logging.getLogger(__name__)


def _forecasts(cfg: DictConfig, universe: Universe, markets: dict[str, MarketData],
               until: pd.Timestamp | None) -> pd.DataFrame:
    """Long-form forecasts indexed by (date, ticker), computed afresh (no cache)."""
    if universe.model == "global":
        long = global_forecasts(cfg, universe, markets, until=until, progress=False, use_cache=False)
    else:
        long = long_form({t: walk_forward_forecasts(cfg, m, use_cache=False, until=until).predictions
                          for t, m in markets.items()})
    return long.set_index(["date", "ticker"])[["forecast", "ridge"]].sort_index()


def _first_change(before: pd.DataFrame, after: pd.DataFrame, cutoff: pd.Timestamp,
                  atol: float) -> tuple[pd.Timestamp, str] | None:
    """(date, ticker) of the first forecast up to `cutoff` that differs, or None."""
    a = before[before.index.get_level_values("date") <= cutoff]
    b = after[after.index.get_level_values("date") <= cutoff]
    label = first_difference(a, b, atol)
    return None if label is None else (pd.Timestamp(label[0]), str(label[1]))


def audit_universe_cutoff(cfg: DictConfig, universe: Universe, markets: dict[str, MarketData],
                          baseline: pd.DataFrame, cutoff: pd.Timestamp, ticker: str, seed: int,
                          atol: float, trading: TradingAudit | None = None,
                          derived: dict[str, pd.DataFrame] | None = None) -> list[Finding]:
    """Alter `ticker` after `cutoff`; compare market inputs, every ticker's forecasts and (with
    `trading`) what the run derives from them, up to the cutoff."""
    altered = {**markets, ticker: alter_after(markets[ticker], cutoff, seed)}
    findings: list[Finding] = []
    inputs, inputs_after = market_inputs(universe, markets), market_inputs(universe, altered)
    if inputs is not None and inputs_after is not None:
        date = first_difference(inputs.loc[:cutoff], inputs_after.loc[:cutoff], atol)
        if date is not None:
            findings.append(Finding(cutoff, "market inputs", date, f"after altering {ticker}"))
    rerun = _forecasts(cfg, universe, altered, until=cutoff)
    changed = _first_change(baseline, rerun, cutoff, atol)
    if changed is not None:
        findings.append(Finding(cutoff, "forecasts", changed[0],
                                f"of {changed[1]} after altering {ticker}"))
    if trading is not None and derived is not None:
        findings += trading.compare(derived, altered, rerun.reset_index(), ticker, cutoff, atol)
    return findings


def run_universe_audit(cfg: DictConfig, cutoffs: int = 3, atol: float = 0.0) -> float:
    """Audit the configured universe run; exit status 1 and the first offending date on FAIL."""
    universe, markets, left_out = load_universe(cfg)
    baseline = _forecasts(cfg, universe, markets, until=None)
    trading = TradingAudit(cfg, markets)
    derived = trading.outputs(markets, baseline.reset_index(), trading.runs)
    picks = cutoff_dates(baseline.index.get_level_values("date").unique().sort_values(), cutoffs)
    tickers = sorted(markets)
    findings: list[Finding] = []
    altered_tickers = []
    for number, cutoff in enumerate(picks):
        ticker = tickers[number % len(tickers)]
        altered_tickers.append(ticker)
        log.info("audit: cutoff %d/%d at %s: altering %s after it and recomputing every ticker",
                 number + 1, len(picks), cutoff.date(), ticker)
        found = audit_universe_cutoff(cfg, universe, markets, baseline, cutoff, ticker,
                                      seed=int(cfg.seed) + 1000 + number, atol=atol,
                                      trading=trading, derived=derived)
        for item in found:
            log.error("audit: %s up to %s changed; first on %s %s", item.what, cutoff.date(),
                      day_text(item.first_date), item.detail)
        findings += found
    facts = {"model": universe.model, "altered": altered_tickers, "tickers": tickers,
             "left_out": left_out}
    return verdict(Path(cfg.paths.output_dir), findings, picks,
                   ["market inputs", "forecasts of every ticker", *trading.checked], facts,
                   f"market inputs, the forecasts of all {len(tickers)} tickers"
                   + "".join(f", {what}" for what in trading.checked), "one ticker's data")
