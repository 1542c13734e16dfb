"""summary.csv and summary.html at a sweep's root: one row per run, deflated for the search.

Read only from what the runs left on disk (metrics.json, returns.csv, run_info.json, error.txt,
.hydra/), so it works for any launcher, for a resumed sweep, and can be rebuilt by hand:
`python -m backtests.summary results/multiruns/<stamp>`.
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
from backtests.summary_html import render_summary
from backtests.summary_stats import deflated_sharpe

log = logging.getLogger(__name__)

COLUMNS = ["job", "status", "overrides", "ticker", "strategy", "total_return", "cagr", "sharpe",
           "sortino", "max_drawdown", "trades", "benchmark_total_return", "excess_return",
           "theil_u", "directional_accuracy", "dm_pvalue", "deflated_sharpe", "psr",
           "sharpe_per_period", "observations", "skew", "kurtosis", "trials",
           "expected_max_sharpe", "report", "tearsheet", "error"]
STRATEGY_KEYS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades")


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
    metrics = _json(folder / "metrics.json")
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
    s, b, f = metrics.get("strategy") or {}, metrics.get("benchmark") or {}, metrics.get("forecast") or {}
    row.update({key: s.get(key) for key in STRATEGY_KEYS})
    row.update(status="complete", benchmark_total_return=b.get("total_return"),
               excess_return=s.get("excess_total_return"), theil_u=f.get("theil_u"),
               directional_accuracy=f.get("directional_accuracy"), dm_pvalue=f.get("dm_pvalue"),
               report=f"{folder.name}/report.html" if (folder / "report.html").exists() else "",
               tearsheet=f"{folder.name}/tearsheet.html" if (folder / "tearsheet.html").exists() else "")
    return row, returns


def summarise(sweep_dir: Path) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Rows for every job folder (deflated Sharpe filled in for complete runs) and their returns."""
    rows, returns = [], {}
    for folder in job_folders(sweep_dir):
        row, frame = read_run(folder)
        rows.append(row)
        if frame is not None:
            returns[row["job"]] = frame
    deflated = deflated_sharpe({job: frame["strategy"] for job, frame in returns.items()})
    for row in rows:
        if row["job"] in deflated.index:
            row.update(deflated.loc[row["job"]].to_dict())
    return rows, returns


def _one_line(error: Any) -> Any:
    """error.txt in one CSV cell: a user mistake's error and hint, or a traceback's last line."""
    if not isinstance(error, str) or not error:
        return error
    lines = error.splitlines()
    return " ".join(lines) if lines[0].startswith("error:") else lines[-1]


def write_summary(sweep_dir: Path) -> list[dict[str, Any]]:
    """Write summary.csv and summary.html into `sweep_dir`; return the rows."""
    rows, returns = summarise(sweep_dir)
    frame = pd.DataFrame([{column: row.get(column) for column in COLUMNS} for row in rows],
                         columns=COLUMNS)
    frame["error"] = frame["error"].map(_one_line)
    write_csv(sweep_dir / "summary.csv", frame, index=False, float_format="%.10g")
    write_text(sweep_dir / "summary.html", render_summary(sweep_dir.name, rows, returns))
    return rows


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for given in sys.argv[1:] or ["."]:
        summary_rows = write_summary(Path(given))
        log.info("%s: %d runs -> summary.csv, summary.html", given, len(summary_rows))
