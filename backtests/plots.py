"""The run's figures: forecast vs actual price with equity curves, and forecast skill over time."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtests.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # never a window, whatever the machine has
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    _pyplot().close(fig)


def write_forecast_plot(path: Path, predictions: pd.DataFrame, equity: pd.DataFrame, title: str) -> None:
    """Predicted vs actual next close over the test period, and strategy vs benchmark equity."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    known = predictions.dropna(subset=["actual_next_close"])
    top.plot(known.index, known["actual_next_close"], lw=1.0, color="black", label="actual next close")
    top.plot(predictions.index, predictions["predicted_next_close"], lw=0.8, color="tab:orange",
             alpha=0.8, label="LSTM forecast of next close")
    top.set_ylabel("price")
    top.set_title(title)
    top.legend(loc="upper left")
    for column, colour in zip(equity.columns, ("tab:blue", "tab:gray")):
        bottom.plot(equity.index, equity[column], lw=1.0, color=colour, label=column)
    bottom.set_ylabel("equity")
    bottom.legend(loc="upper left")
    fig.tight_layout()
    _save(fig, path)


def write_skill_plot(path: Path, predictions: pd.DataFrame, folds: list[dict], window: int = 63) -> None:
    """Rolling directional accuracy against the share of up days, and MSE per fold vs persistence."""
    plt = _pyplot()
    known = predictions.dropna(subset=["forecast", "actual"])
    hit = (np.sign(known["forecast"]) == np.sign(known["actual"])).astype(float)
    up = (known["actual"] > 0).astype(float)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5))
    top.plot(hit.index, hit.rolling(window).mean(), color="tab:orange", lw=1.0,
             label=f"LSTM directional accuracy ({window}-day rolling)")
    top.plot(up.index, up.rolling(window).mean(), color="gray", lw=0.8,
             label="share of up days (the 'always up' guess)")
    top.axhline(0.5, color="black", lw=0.6, ls=":")
    top.set_ylabel("accuracy")
    top.legend(loc="lower left", fontsize=8)
    frame = pd.DataFrame(folds)
    x = np.arange(len(frame))
    bottom.bar(x - 0.2, frame["mse"], width=0.4, color="tab:orange", label="LSTM")
    bottom.bar(x + 0.2, frame["persistence_mse"], width=0.4, color="gray", label="persistence")
    bottom.set_xlabel("walk-forward fold")
    bottom.set_ylabel("MSE of next-day log return")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
