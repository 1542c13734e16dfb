"""The universe run's figure: daily IC over time (with its running mean) and IC by walk-forward fold.

A single day's IC over thirty names is mostly noise (its standard deviation is about 1/sqrt(30)),
so the plot draws the 63-day mean and the cumulative mean beside the daily values, for the model and
each baseline, and the per-fold means as bars: skill that lives in a few folds shows there.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtests.outputs.plots import _pyplot, _save

COLOURS = {"forecast": "#2357a4", "ridge": "#c0392b", "reversal": "#7f8c8d", "drift": "#d4a017"}


def _column(name: str, kind: str) -> str:
    return kind if name == "forecast" else f"{name}_{kind}"


def write_ic_plot(path: Path, daily: pd.DataFrame, folds: pd.DataFrame, window: int = 63) -> None:
    """ic.png: Rank IC over time (daily, rolling, cumulative mean) and mean IC per fold."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 8.5), height_ratios=[1.2, 1])
    names = [n for n in COLOURS if _column(n, "rank_ic") in daily]
    if "rank_ic" in daily and len(daily):
        top.plot(daily.index, daily["rank_ic"], color=COLOURS["forecast"], lw=0.4, alpha=0.25,
                 label="model, daily Rank IC")
    for name in names:
        series = daily[_column(name, "rank_ic")]
        label = "model" if name == "forecast" else name
        top.plot(series.index, series.rolling(window, min_periods=window // 2).mean(),
                 color=COLOURS[name], lw=1.4, label=f"{label}, {window}-day mean")
        top.plot(series.index, series.expanding().mean(), color=COLOURS[name], lw=1.0, ls="--",
                 label=f"{label}, cumulative mean")
    top.axhline(0, color="black", lw=0.6)
    top.set_title("Rank IC (Spearman correlation of forecast and next-day return across tickers)")
    top.legend(fontsize=8, ncol=3, loc="upper left")
    width = 0.8 / max(1, len(names))
    x = np.arange(len(folds))
    for i, name in enumerate(names):
        column = f"{name}_ic"
        if column in folds:
            label = "model" if name == "forecast" else name
            bottom.bar(x + i * width, folds[column].to_numpy(), width, color=COLOURS[name],
                       label=label)
    bottom.axhline(0, color="black", lw=0.6)
    bottom.set_title("Mean daily IC per walk-forward fold")
    bottom.set_xlabel("fold")
    if len(folds):
        step = max(1, len(folds) // 20)
        bottom.set_xticks(x[::step])
        bottom.set_xticklabels([str(f) for f in folds.index[::step]])
    bottom.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
