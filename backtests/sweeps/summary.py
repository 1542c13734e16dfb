"""summary.csv and summary.html at a sweep's root: one row per run, deflated for the search.

Read only from what the runs left on disk (metrics.json, returns.csv, run_info.json, error.txt,
.hydra/), so it works for any launcher, for a resumed sweep, and can be rebuilt by hand:
`python -m backtests.sweeps.summary results/multiruns/<stamp>`.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from backtests.atomic import write_csv, write_text
from backtests.errors import UserError
from backtests.ledger.record import ledger_figures
from backtests.sweeps.page import render_summary
from backtests.sweeps.period import CommonPeriod, rescore

log = logging.getLogger(__name__)

# Each run deflated by every trial in the ledger on its data and its own test period (its period in
# the ledger, which is the common period unless the run is marked recomputed).
LEDGER_KEYS = ("trials", "deflated_sharpe", "excess_deflated_sharpe", "expected_max_sharpe",
               "excess_expected_max_sharpe", "dataset", "period_start", "period_end")
COLUMNS = ["job", "status", "overrides", "ticker", "strategy", "period_start", "period_end",
           "own_period_start", "own_period_end", "recomputed", "total_return", "cagr", "sharpe",
           "sortino", "max_drawdown", "trades", "benchmark_total_return", "excess_return",
           "uses_forecast", "theil_u", "directional_accuracy", "dm_pvalue", "deflated_sharpe",
           "psr", "excess_deflated_sharpe", "excess_psr", "sharpe_per_period", "observations",
           "skew", "kurtosis", "trials", "expected_max_sharpe", "excess_sharpe_per_period",
           "excess_expected_max_sharpe", *(f"ledger_{key}" for key in LEDGER_KEYS), "report",
           "tearsheet", "error"]
SKILL_KEYS = ("theil_u", "directional_accuracy", "dm_pvalue")


def job_folders(sweep_dir: Path) -> list[Path]:
    """The sweep's job folders (Hydra leaves `.hydra/` in each), in job-number order."""
    found = [p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir()]

    def order(path: Path) -> tuple[int, str]:
        head = path.name.split("_", 1)[0]
        return (int(head) if head.isdigit() else sys.maxsize, path.name)

    return sorted(found, key=order)


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _json(path: Path) -> dict | None:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def read_run(folder: Path) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """One summary row for a job folder, and its returns (strategy, benchmark) when complete."""
    overrides = _yaml(folder / ".hydra" / "overrides.yaml") or []
    config = _yaml(folder / ".hydra" / "config.yaml") or {}
    hydra = _yaml(folder / ".hydra" / "hydra.yaml") or {}
    choices = ((hydra.get("hydra") or {}).get("runtime") or {}).get("choices") or {}
    row: dict[str, Any] = {"job": folder.name, "overrides": " ".join(map(str, overrides)),
                           "override_list": [str(o) for o in overrides],
                           "ticker": config.get("ticker"), "strategy": choices.get("strategy")}
    if "${" in str(row["ticker"]):  # the default is an interpolation: the run's files resolve it
        row["ticker"] = None
    metrics = _json(folder / "metrics.json")
    if metrics is not None and (metrics.get("data") or {}).get("ticker"):
        row["ticker"] = metrics["data"]["ticker"]
    returns = None
    if metrics is not None:
        try:
            returns = pd.read_csv(folder / "returns.csv", index_col="date", parse_dates=["date"])
        except (OSError, ValueError) as exc:
            log.warning("summary: %s has no readable returns.csv (%s)", folder.name, exc)
    if metrics is None or returns is None:
        error = folder / "error.txt"
        row["status"] = "failed" if error.exists() else "incomplete"
        row["error"] = (error.read_text().strip() if error.exists()
                        else "no metrics.json: interrupted, still running, or not a backtest")
        return row, None
    s, f = metrics.get("strategy") or {}, metrics.get("forecast") or {}
    if "portfolio" in metrics:  # a universe traded as a portfolio (stages/portfolio.py)
        row["ticker"] = f"universe {metrics['universe']['name']}"
    # Runs written before strategies declared it were all scored as forecast readers.
    uses_forecast = bool(s.get("uses_forecast", True))
    row.update({key: f.get(key) if uses_forecast else None for key in SKILL_KEYS})
    row.update(_ledger_columns(_json(folder / "trials.json")))
    row.update(status="complete", uses_forecast=uses_forecast, own_trades=s.get("trades"),
               periods_per_year=(config.get("report") or {}).get("periods_per_year"),
               entry_dates=_entry_dates(folder),
               report=f"{folder.name}/report.html" if (folder / "report.html").exists() else "",
               tearsheet=f"{folder.name}/tearsheet.html" if (folder / "tearsheet.html").exists() else "")
    return row, returns


def _ledger_columns(block: Any) -> dict[str, Any]:
    """The run's ledger figures as they are now (later trials included), from its trials.json."""
    figures = None
    if isinstance(block, dict) and block.get("ledger") and block.get("id") is not None:
        try:
            figures = ledger_figures(block["ledger"], int(block["id"]))
        except UserError as exc:  # an unreadable ledger leaves the columns empty, not the summary
            log.warning("summary: %s", exc.message)
    return {f"ledger_{key}": (figures or {}).get(key) for key in LEDGER_KEYS}


def _entry_dates(folder: Path) -> pd.Series | None:
    """The entry dates of the run's trades (to count them over a shorter period), if readable."""
    try:
        return pd.to_datetime(pd.read_csv(folder / "trades.csv")["entry_date"])
    except (OSError, ValueError, KeyError):
        return None


def summarise(sweep_dir: Path) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame], CommonPeriod]:
    """Rows for every job folder, scored over the common test period; the returns cut to it."""
    rows, returns = [], {}
    for folder in job_folders(sweep_dir):
        row, frame = read_run(folder)
        rows.append(row)
        if frame is not None:
            returns[row["job"]] = frame
    period, cut = rescore(rows, returns)
    return rows, cut, period


def _one_line(error: Any) -> Any:
    """error.txt in one CSV cell: a user mistake's error and hint, or a traceback's last line."""
    if not isinstance(error, str) or not error:
        return error
    lines = error.splitlines()
    return " ".join(lines) if lines[0].startswith("error:") else lines[-1]


def write_summary(sweep_dir: Path) -> list[dict[str, Any]]:
    """Write summary.csv and summary.html into `sweep_dir`; return the rows."""
    rows, returns, period = summarise(sweep_dir)
    frame = pd.DataFrame([{column: row.get(column) for column in COLUMNS} for row in rows],
                         columns=COLUMNS)
    frame["error"] = frame["error"].map(_one_line)
    write_csv(sweep_dir / "summary.csv", frame, index=False, float_format="%.10g")
    write_text(sweep_dir / "summary.html", render_summary(sweep_dir.name, rows, returns, period))
    return rows


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for given in sys.argv[1:] or ["."]:
        summary_rows = write_summary(Path(given))
        log.info("%s: %d runs -> summary.csv, summary.html", given, len(summary_rows))
