"""Record a finished backtest in the ledger and read back its deflation by every trial.

Called by the experiment after the backtest and before report.html, so the page and trials.json
can show the count. Also the reader the sweep summary uses, so both pages
compute the ledger figures the same way.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.ledger.deflate import deflate, make_trial
from backtests.ledger.store import Ledger
from backtests.runcontext import sweep_name
from backtests.settings.defaults import shipped

log = logging.getLogger(__name__)


def ledger_of(cfg: DictConfig) -> Ledger | None:
    """The configured ledger, or None when the group is absent or `ledger.enabled=false`."""
    if cfg.get("ledger") is None:
        return None
    ledger = instantiate(cfg.ledger)
    return ledger if ledger.enabled else None


def record_run(cfg: DictConfig, dataset: str, ticker: str, returns: pd.DataFrame,
               sharpe: float | None, strategy: str | None, run_dir: Path,
               git_commit: str | None, data_end: str | None = None,
               prefix: Callable[[str], str] | None = None) -> dict[str, Any] | None:
    """Append this run to the ledger; return what trials.json holds (None: no ledger).

    `data_end` and `prefix(date)` (the data's fingerprint cut at a date) let the ledger count a
    daily extension of a recorded trial as that trial (Ledger.record)."""
    ledger = ledger_of(cfg)
    if ledger is None:
        return None
    trial = make_trial(cfg, dataset, ticker, returns, sharpe, strategy, sweep_name(),
                       str(run_dir), git_commit, data_end)
    row_id, new = ledger.record(trial, prefix)
    block = ledger_figures(ledger.path, row_id)
    assert block is not None  # just written in a committed transaction
    block["new"] = new
    extension = block["dataset"] != dataset
    block["extension"] = extension
    if extension:
        log.info("ledger: a daily extension of trial %d (first run on data to %s; %d extensions, "
                 "now to %s): the same trial, not a new one", block["id"], block["data_end"],
                 block["extensions"], data_end)
    log.info("ledger: %s; %d distinct trials on this data and test period (%s to %s): "
             "deflated Sharpe %.3f (%.3f in this run alone, PSR(0))",
             "a new trial" if new else ("an extension of earlier settings' data, not a new trial"
                                        if extension else
                                        "a rerun of earlier settings, not a new trial"),
             block["trials"], block["period_start"], block["period_end"],
             block["deflated_sharpe"], block["psr"])
    return block


def ledger_figures(path: str | Path, row_id: int) -> dict[str, Any] | None:
    """Trial `row_id` of the ledger at `path`, deflated by every trial on its data and period now."""
    ledger = Ledger(**shipped("ledger", "default", path=path))  # reads as a run with the defaults
    if not ledger.path.exists():
        return None
    row = ledger.trial(int(row_id))
    if row is None:  # deleted by a reset since
        return None
    population = ledger.trials(row["dataset"], (row["period_start"], row["period_end"]))
    return {"ledger": str(ledger.path), "id": row["id"], "dataset": row["dataset"],
            "ticker": row["ticker"], "period_start": row["period_start"],
            "period_end": row["period_end"], "settings_hash": row["settings_hash"],
            "sweep": row["sweep"], "data_end": row.get("data_end"),
            "extensions": int(row.get("extensions") or 0),
            "latest_data_end": row.get("latest_data_end"), **deflate(row, population)}
