"""The figures of a run folder over one period: what mode=holdout shows for each side of the holdout.

Read from the files the run wrote (returns.csv, predictions.csv), so a holdout opening and a
plain run cut to the same period give the same numbers by construction: the same function, the
same files. The strategy's figures are `performance`'s (what metrics.json holds), the forecast's
are a single ticker's directional accuracy, correlation and MSE against ridge, or a universe's
daily IC and Rank IC (forecasting/universe/cross_section.py).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.pipeline.metrics import TRADING_DAYS, performance
from forecasting.universe.cross_section import daily_ic, mean_test


def period_figures(folder: Path, start: pd.Timestamp | None, end: pd.Timestamp | None,
                   periods_per_year: int = TRADING_DAYS) -> dict[str, Any]:
    """The figures of the run in `folder` over [start, end) (None: open on that side)."""
    block: dict[str, Any] = {}
    returns_file = folder / "returns.csv"
    if returns_file.is_file():
        frame = _cut(pd.read_csv(returns_file, index_col=0, parse_dates=True), start, end)
        block.update(_span(frame.index))
        if len(frame) and {"strategy", "benchmark"} <= set(frame.columns):
            block["strategy"] = performance(frame["strategy"], periods_per_year)
            block["benchmark"] = performance(frame["benchmark"], periods_per_year)
            block["excess_return"] = (block["strategy"]["total_return"]
                                      - block["benchmark"]["total_return"])
    predictions_file = folder / "predictions.csv"
    if predictions_file.is_file():
        rows = pd.read_csv(predictions_file, parse_dates=[0])
        rows = rows.rename(columns={rows.columns[0]: "date"})
        rows = _cut(rows.set_index("date"), start, end).reset_index()
        if "days" not in block:
            block.update(_span(pd.DatetimeIndex(rows["date"].unique())))
        block["forecast"] = (_cross_section(rows) if "ticker" in rows.columns else _single(rows))
    return block


def _cut(frame: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= frame.index >= start
    if end is not None:
        keep &= frame.index < end
    return frame.loc[keep]


def _span(index: pd.Index) -> dict[str, Any]:
    if not len(index):
        return {"days": 0, "first": None, "last": None}
    return {"days": int(len(index)), "first": str(index.min().date()), "last": str(index.max().date())}


def _single(rows: pd.DataFrame) -> dict[str, Any]:
    """Directional accuracy, correlation, and MSE as a multiple of ridge's, over rows with an outcome."""
    rows = rows.dropna(subset=["forecast", "actual"])
    n = len(rows)
    if n == 0:
        return {"observations": 0}
    forecast, actual = rows["forecast"].to_numpy(float), rows["actual"].to_numpy(float)
    block: dict[str, Any] = {"observations": n,
                             "directional_accuracy": float(np.mean(np.sign(forecast) == np.sign(actual))),
                             "correlation": _corr(forecast, actual)}
    if "ridge" in rows:
        ridge = float(np.mean((rows["ridge"].to_numpy(float) - actual) ** 2))
        block["mse_vs_ridge"] = float(np.mean((forecast - actual) ** 2)) / ridge if ridge > 0 else math.nan
    return block


def _cross_section(rows: pd.DataFrame) -> dict[str, Any]:
    """Mean daily IC and Rank IC, their IR, over the scored rows."""
    if "scored" in rows:
        rows = rows[rows["scored"] == 1]
    daily = daily_ic(rows)
    ic, rank = mean_test(daily["ic"]), mean_test(daily["rank_ic"])
    return {"days": int(len(daily)), "ic": ic["mean"], "icir": ic["ratio"], "ic_t": ic["t"],
            "rank_ic": rank["mean"], "rank_icir": rank["ratio"]}


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])
