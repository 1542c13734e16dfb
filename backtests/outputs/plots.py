"""The run's figures: the forecast against what happened (drawn honestly), equity, and skill over time."""
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


def write_forecast_plot(path: Path, predictions: pd.DataFrame, equity: pd.DataFrame, title: str,
                        model: str = "model", zoom: int = 60) -> None:
    """The forecast of the next close, drawn so that it cannot pass for skill it does not have.

    A forecast of tomorrow's close is today's close times e^forecast: it follows the price whatever
    its skill, and over years it looks perfect. So beside the full period: the last `zoom`
    sessions with the persistence forecast (today's close) drawn too, where the one-day lag shows;
    forecast against realised return (scatter with its least-squares fit) and the realised return
    by forecast quintile, which is where skill would show; then strategy and buy-and-hold equity.
    """
    plt = _pyplot()
    fig = plt.figure(figsize=(12, 12.5))
    grid = fig.add_gridspec(3, 2, height_ratios=[1.1, 1, 1])
    # Each forecast is drawn at the date it forecasts (the next bar), beside what happened there.
    known = predictions.dropna(subset=["actual"])
    target_dates = predictions.index[1:len(known) + 1]
    aligned = pd.DataFrame({"actual": known["actual_next_close"].to_numpy(),
                            "forecast": known["predicted_next_close"].to_numpy(),
                            "persistence": known["close"].to_numpy()}, index=target_dates)
    full = fig.add_subplot(grid[0, :])
    full.plot(aligned.index, aligned["actual"], lw=1.0, color="black", label="actual close")
    full.plot(aligned.index, aligned["forecast"], lw=0.8, color="tab:orange", alpha=0.8,
              label=f"{model} forecast of that close (made the session before)")
    full.set_title(f"{title}\nA forecast of the next close starts from today's close, so it follows "
                   "the price whatever its skill: judge it by the panels below", fontsize=10)
    full.set_ylabel("price")
    full.legend(loc="upper left", fontsize=8)

    recent = aligned.tail(zoom)
    lag = fig.add_subplot(grid[1, 0])
    lag.plot(recent.index, recent["actual"], color="black", lw=1.2, marker=".", label="actual close")
    lag.plot(recent.index, recent["forecast"], color="tab:orange", lw=1.0, label=f"{model} forecast")
    lag.plot(recent.index, recent["persistence"], color="tab:gray", lw=1.0, ls="--",
             label="persistence (previous close)")
    lag.set_title(f"Last {len(recent)} sessions: the forecast is close to the previous close",
                  fontsize=10)
    lag.legend(loc="best", fontsize=7)
    lag.tick_params(axis="x", labelrotation=30, labelsize=8)

    _return_scatter(fig.add_subplot(grid[1, 1]), known, model)
    _quintiles(fig.add_subplot(grid[2, 0]), known, model)

    money = fig.add_subplot(grid[2, 1])
    for column, colour in zip(equity.columns, ("tab:blue", "tab:gray")):
        money.plot(equity.index, equity[column], lw=1.0, color=colour, label=column)
    money.set_title("Equity: strategy and buy-and-hold, same costs", fontsize=10)
    money.ticklabel_format(axis="y", style="plain", useOffset=False)
    money.legend(loc="upper left", fontsize=8)
    money.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    _save(fig, path)


def _return_scatter(ax, known: pd.DataFrame, model: str) -> None:
    """Forecast against realised next-day return, with the least-squares line through them."""
    x, y = 100 * known["forecast"].to_numpy(), 100 * known["actual"].to_numpy()
    ax.scatter(x, y, s=4, alpha=0.35, color="tab:orange", edgecolors="none")
    if len(x) > 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        corr = float(np.corrcoef(x, y)[0, 1])
        line = np.linspace(x.min(), x.max(), 2)
        ax.plot(line, slope * line + intercept, color="tab:red", lw=1.2,
                label=f"fit: slope {slope:.2f}, correlation {corr:+.3f}")
        ax.legend(loc="upper left", fontsize=8)
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel(f"{model} forecast of the next-day log return, %")
    ax.set_ylabel("realised next-day log return, %")
    ax.set_title("Forecast against what happened (skill = a rising line)", fontsize=10)


def _quintiles(ax, known: pd.DataFrame, model: str, bins: int = 5) -> None:
    """Mean realised return in each forecast quintile (95% intervals) beside the mean forecast."""
    if len(known) < 2 * bins:
        ax.set_axis_off()
        return
    groups = pd.qcut(known["forecast"].rank(method="first"), bins, labels=False)
    table = known.groupby(groups).agg(forecast=("forecast", "mean"), actual=("actual", "mean"),
                                      spread=("actual", "std"), n=("actual", "size"))
    x = np.arange(1, bins + 1)
    error = 1.96 * 100 * table["spread"] / np.sqrt(table["n"])
    ax.bar(x, 100 * table["actual"], color="tab:blue", alpha=0.7, yerr=error, capsize=3,
           label="mean realised return (95% interval)")
    ax.plot(x, 100 * table["forecast"], color="tab:orange", marker="o", lw=1.0,
            label=f"mean {model} forecast")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xticks(x, ["lowest"] + [str(i) for i in x[1:-1]] + ["highest"])
    ax.set_xlabel("forecast quintile")
    ax.set_ylabel("next-day log return, %")
    ax.set_title("Realised return by forecast size (skill = bars rising left to right)", fontsize=10)
    ax.legend(loc="best", fontsize=7)


def write_skill_plot(path: Path, predictions: pd.DataFrame, folds: list[dict], model: str = "model",
                     window: int = 63) -> None:
    """Rolling directional accuracy against the share of up days, and MSE per fold vs persistence."""
    plt = _pyplot()
    known = predictions.dropna(subset=["forecast", "actual"])
    hit = (np.sign(known["forecast"]) == np.sign(known["actual"])).astype(float)
    up = (known["actual"] > 0).astype(float)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5))
    top.plot(hit.index, hit.rolling(window).mean(), color="tab:orange", lw=1.0,
             label=f"{model} directional accuracy ({window}-day rolling)")
    top.plot(up.index, up.rolling(window).mean(), color="gray", lw=0.8,
             label="share of up days (the 'always up' guess)")
    top.axhline(0.5, color="black", lw=0.6, ls=":")
    top.set_ylabel("accuracy")
    top.legend(loc="lower left", fontsize=8)
    frame = pd.DataFrame(folds)
    x = np.arange(len(frame))
    bottom.bar(x - 0.2, frame["mse"], width=0.4, color="tab:orange", label=model)
    bottom.bar(x + 0.2, frame["persistence_mse"], width=0.4, color="gray", label="persistence")
    bottom.set_xlabel("walk-forward fold")
    bottom.set_ylabel("MSE of next-day log return")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
