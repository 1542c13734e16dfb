"""`python run.py mode=ledger`: the trials on record for the configured data, and their reset.

The data are chosen exactly as for a backtest (ticker or universe, `data=`, start and end), so the
command a user ran is the command that lists its trials: the prices are loaded and their fingerprint
(a universe's: every member's, as its runs record it) selects the records. Each trial is shown
with its Sharpe and its deflated Sharpe against every trial on the same data and test period, most
recent first; `mode.reset=true` deletes them, so the count starts
again (a deliberate act, logged with the number deleted).
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from backtests.atomic import write_csv
from backtests.errors import UserError
from backtests.ledger.deflate import deflate
from backtests.ledger.record import ledger_of
from backtests.outputs.html import plural
from backtests.stages.markets import load_markets

log = logging.getLogger("backtests")

SHOWN = ["last_run_at", "recorded_at", "reruns", "strategy", "period_start", "period_end", "sharpe",
         "trials", "deflated_sharpe", "excess_deflated_sharpe", "settings_hash", "sweep", "run_dir"]


def run_ledger(cfg: DictConfig, *, reset: bool) -> None:
    """Log the trials on the configured data and write ledger.csv; `reset` deletes them instead."""
    ledger = ledger_of(cfg)
    if ledger is None:
        raise UserError("the trial ledger is switched off (ledger.enabled=false)",
                        "drop ledger.enabled=false to list or reset the trials on record")
    label, dataset, (first, last) = _dataset(cfg)
    if reset:
        deleted = ledger.reset(dataset)
        log.warning("ledger: deleted %d trials on %s data %s from %s; the count starts again",
                    deleted, label, dataset, ledger.path)
        return
    trials = ledger.trials(dataset)
    table = trial_table(trials)
    out = Path(cfg.paths.output_dir)
    _openings(ledger.openings(dataset), out)
    write_csv(out / "ledger.csv", table, index=False, float_format="%.10g")
    if table.empty:
        others = sorted({t["dataset"] for t in ledger.trials() if t["ticker"] == label})
        log.info("ledger: no trials on %s data %s (%s to %s) in %s%s", label, dataset, first, last,
                 ledger.path, f"; {len(others)} other versions of {label} data have trials: "
                 f"{', '.join(others)} (other data settings)" if others else "")
        return
    periods = table.groupby(["period_start", "period_end"]).size()
    log.info("ledger: %d distinct trials on %s data %s in %s, over %s (%s)",
             len(table), label, dataset, ledger.path, plural(len(periods), "test period"),
             "; ".join(f"{a} to {b}: N={n}" for (a, b), n in periods.items()))
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 40, "display.max_rows", 500):
        shown = table.drop(columns=["run_dir", "recorded_at"]).assign(  # UTC, to the second
            last_run_at=table["last_run_at"].str.slice(0, 19).str.replace("T", " "))
        log.info("trials, most recent first (UTC):\n%s",
                 shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    log.info("ledger.csv: %s (reset this dataset's count with mode.reset=true)", out / "ledger.csv")


OPENING_COLUMNS = ["opened_at", "holdout", "number", "reopened", "trials_before", "chosen_from",
                   "settings_hash", "run_dir"]


def _openings(openings: list[dict], out: Path) -> None:
    """holdout_openings.csv and the log: every opening of a holdout on this (selection) data; an
    opening after the first of the same holdout is marked `reopened`."""
    if not openings:
        return
    table = pd.DataFrame([{**o, "reopened": o["number"] > 1} for o in openings],
                         columns=OPENING_COLUMNS)
    write_csv(out / "holdout_openings.csv", table, index=False)
    for row in openings:
        log.log(logging.WARNING if row["number"] > 1 else logging.INFO,
                "holdout from %s opened %s (%s) after %d trials%s", row["holdout"],
                row["opened_at"][:19].replace("T", " "), row["chosen_from"], row["trials_before"],
                f": REOPENED, opening {row['number']} of this holdout" if row["number"] > 1 else "")


def _dataset(cfg: DictConfig) -> tuple[str, str, tuple[str, str]]:
    """(what the ledger calls the data, its fingerprint, its first and last date), loaded as a
    backtest loads it: one ticker, or a universe's usable members."""
    loaded = load_markets(cfg)
    dates = [d for m in loaded.markets.values() for d in (m.frame.index[0], m.frame.index[-1])]
    return loaded.label, loaded.fingerprint, (str(min(dates).date()), str(max(dates).date()))


def trial_table(trials: list[dict]) -> pd.DataFrame:
    """One row per trial (most recent first) with its DSR against its data and period's trials."""
    rows = []
    for trial in trials:
        population = [t for t in trials if (t["period_start"], t["period_end"])
                      == (trial["period_start"], trial["period_end"])]
        rows.append({**trial, **deflate(trial, population)})
    return pd.DataFrame(rows, columns=SHOWN)
