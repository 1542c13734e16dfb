"""What every look-ahead audit shares: an altered future, the comparison up to a cutoff, the
cutoffs themselves, and the verdict (audit.json, the log, exit status 1 on FAIL).

`mode=audit` (stages/audit.py) alters one ticker's data after each cutoff, replays the run chain,
and calls any difference up to the cutoff a finding, for one ticker or a universe alike; these are
its parts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.atomic import write_json
from backtests.data.base import MarketData

log = logging.getLogger(__name__)


@dataclass
class Finding:
    cutoff: pd.Timestamp
    what: str          # "features", "forecasts", "risk forecasts" or "trades"
    first_date: pd.Timestamp | None
    detail: str = ""


def alter_after(market: MarketData, cutoff: pd.Timestamp, seed: int) -> MarketData:
    """A copy whose bars after `cutoff` follow another random path (still valid OHLCV)."""
    frame = market.frame.copy()
    later = frame.index > cutoff
    rng = np.random.default_rng(seed)
    factor = np.exp(np.cumsum(rng.normal(0.0, 0.03, later.sum())))
    for column in ("Open", "High", "Low", "Close"):
        frame.loc[later, column] = frame.loc[later, column].to_numpy() * factor
    frame.loc[later, "Volume"] = frame.loc[later, "Volume"].to_numpy() * rng.uniform(0.3, 3.0, later.sum())
    return replace(market, frame=frame)


def first_difference(a: pd.DataFrame | pd.Series, b: pd.DataFrame | pd.Series,
                     atol: float) -> pd.Timestamp | None:
    """The first index label where two aligned tables differ by more than `atol` (NaN == NaN)."""
    a, b = a.align(b, join="outer")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    same = np.isclose(x, y, rtol=0.0, atol=atol, equal_nan=True)
    rows = same.reshape(len(a), -1).all(axis=1)
    return None if rows.all() else a.index[int(np.argmin(rows))]


def risk_by_date(frame: pd.DataFrame) -> pd.DataFrame:
    """Risk forecasts one row per date, a column per (measure, method): comparable by date.

    `realised` is left out: on the cutoff day it is the next (altered) day's return.
    """
    measures = [c for c in frame.columns if c not in ("method", "realised", "fold")]
    return frame.pivot(columns="method", values=measures)


def day_text(when: pd.Timestamp | None) -> str:
    """A finding's first date; a difference without a date (counts differ) has none."""
    return "an unknown date" if when is None else when.date().isoformat()


def cutoff_dates(dates: pd.Index, count: int) -> list[pd.Timestamp]:
    """`count` cutoffs spread evenly over the out-of-sample `dates` (neither its first nor last)."""
    return [dates[int(len(dates) * (i + 1) / (count + 1))] for i in range(count)]


def verdict(out: Path, findings: list[Finding], cutoffs: list[pd.Timestamp], checked: list[str],
            facts: dict[str, Any], unchanged: str, altered: str) -> float:
    """Write audit.json into `out` and log the verdict; exit status 1 and the first offending date
    on FAIL, else 0.0. `facts`: what else audit.json records (the data, the altered tickers);
    `unchanged` and `altered` complete the PASS line (what stayed the same, whose data changed)."""
    report = {
        "result": "FAIL" if findings else "PASS",
        "cutoffs": [c.date().isoformat() for c in cutoffs],
        "checked": checked,
        "findings": [{"cutoff": f.cutoff.date().isoformat(), "what": f.what,
                      "first_date": day_text(f.first_date), "detail": f.detail}
                     for f in findings],
        **facts,
    }
    write_json(out / "audit.json", report)
    if findings:
        first = min(findings, key=lambda f: f.first_date or f.cutoff)
        log.error("audit FAIL: %s on %s depend on data after %s (%s)", first.what,
                  day_text(first.first_date), first.cutoff.date(), first.detail or "look-ahead")
        raise SystemExit(1)
    log.info("audit PASS: %s up to %s are unchanged when %s after each cutoff is altered",
             unchanged, ", ".join(c.date().isoformat() for c in cutoffs), altered)
    return 0.0
