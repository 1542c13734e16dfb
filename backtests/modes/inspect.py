"""`mode=inspect`: check a price file, every `<TICKER>.csv` of a folder, or a universe's members,
without training anything.

Each file goes through the same reading, cleaning and quality checks as a run (with the configured
`data.quality` policy, but nothing stops: a finding whose policy is `fail` is reported as such),
and the results land in `data_quality.csv` (a row per ticker) and `data_quality.html` (the same
table, and for each ticker with dated findings a price plot with the flagged bars marked).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.atomic import write_csv
from backtests.data.csv import file_ticker
from backtests.data.quality import say_age
from backtests.data.universe import is_universe_run
from backtests.errors import UserError
from backtests.outputs.pages.data_quality import CHECKS, Inspection, finding_dates, write_page

log = logging.getLogger("backtests")


def price_files(path: Path) -> list[Path]:
    """The file itself, or every .csv of the folder (sorted); refuse a path with none."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv") if p.is_file())
        if files:
            return files
        raise UserError(f"{path} holds no .csv files", "point data.path at a folder of <TICKER>.csv")
    raise UserError(f"data.path {path} does not exist", "give a CSV file or a folder of <TICKER>.csv")


def inspect_one(cfg: DictConfig, label: str, start: str | None, end: str | None,
                **source: str) -> Inspection:
    """Load one source with the run's policy; a refusal is a result, not an error."""
    try:
        data = instantiate(cfg.data, start=start, end=end, **source).load(enforce=False, say_age=False)
    except UserError as error:
        log.warning("inspect %s: refused: %s", label, error.message)
        return Inspection(label, refused=error.message)
    findings = data.quality.as_dict()["findings"] if data.quality is not None else []
    return Inspection(label, data, findings=findings)


def run_inspect(cfg: DictConfig, *, start: str | None, end: str | None) -> float:
    """Inspect every configured file, write data_quality.csv and .html; return 0.0 (no metric)."""
    began = time.perf_counter()
    out = Path(cfg.paths.output_dir)
    path = cfg.data.get("path")
    if is_universe_run(cfg):  # the members, each read as a universe run reads it
        tickers = instantiate(cfg.universe).members(cfg.data)
        results = [inspect_one(cfg, ticker, start, end, ticker=ticker) for ticker in tickers]
    elif path is not None:
        results = []
        for file in price_files(Path(str(path)).expanduser()):
            ticker = file_ticker(file) or "DATA"  # a lower-case name sets no ticker
            results.append(inspect_one(cfg, file.stem, start, end, ticker=ticker, path=str(file)))
    else:
        results = [inspect_one(cfg, str(cfg.ticker), start, end)]
    say_age([(r.label, r.data.quality if r.data is not None else None) for r in results])
    rows = [table_row(result) for result in results]
    write_csv(out / "data_quality.csv", pd.DataFrame(rows), index=False)
    write_page(out / "data_quality.html", results, rows)
    flagged = sum(1 for r in results if r.findings)
    refused = sum(1 for r in results if r.refused)
    log.info("inspect: %d file(s) in %.1f s, %d with findings, %d refused; %s", len(results),
             time.perf_counter() - began, flagged, refused, out / "data_quality.html")
    return 0.0


def table_row(result: Inspection) -> dict:
    """A row of data_quality.csv: range, bars, a count per check and every finding in words."""
    frame = result.data.frame if result.data is not None else None
    row: dict = {"ticker": result.label,
                 "first_date": frame.index[0].date() if frame is not None else "",
                 "last_date": frame.index[-1].date() if frame is not None else "",
                 "bars": len(frame) if frame is not None else 0,
                 "status": "refused" if result.refused else ("findings" if result.findings else "clean")}
    for check in CHECKS:
        row[check] = sum(f["count"] for f in result.findings if f["check"] == check)
    lines = [f"{f['kind']}: {f['count']} ({finding_dates(f)}) [{f['action']}]"
             for f in result.findings]
    row["findings"] = result.refused or " | ".join(lines)
    return row
