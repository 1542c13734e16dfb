"""sentiment.png: the forecasts' breadth against the market it claims to read, and how often it agrees.

A breadth index drawn over a price chart always seems to "explain" it by eye; the bottom panel is
the check that the eye skips: how often breadth sits on the same side of 0.5 as the breadth that
actually followed, and the rolling correlation of the two, beside the 50% a coin reaches.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtests.outputs.plots import _pyplot, _save

SMOOTH = 21   # about a month of sessions: a single day's breadth over a few tickers is mostly noise
AGREE = 63    # about a quarter: the window of the rolling agreement


def write_sentiment_plot(path: Path, table: pd.DataFrame, title: str, smooth: int = SMOOTH,
                         agree: int = AGREE) -> None:
    """Three panels: breadth over the EW index, mean forecast and dispersion, breadth vs realised."""
    plt = _pyplot()
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 10.5), sharex=True,
                                              height_ratios=[1.2, 1, 1])
    dates = pd.to_datetime(table.index)
    breadth = table["breadth"]
    top.plot(dates, breadth, color="#2357a4", lw=0.4, alpha=0.3, label="breadth, daily")
    top.plot(dates, breadth.rolling(smooth, min_periods=smooth // 2).mean(), color="#2357a4",
             lw=1.4, label=f"breadth, {smooth}-day mean")
    top.axhline(0.5, color="black", lw=0.6, ls="--", label="0.5: as many up as down")
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel("share of tickers forecast to rise")
    level = top.twinx()
    level.plot(dates, table["index_level"], color="0.25", lw=1.0, label="EW universe index")
    level.set_ylabel("EW universe index (1 = first day)")
    _legend(top, level)
    top.set_title("Breadth of the forecasts against the equal-weight universe", fontsize=10, loc="left")

    mean = table["mean_forecast"].rolling(smooth, min_periods=smooth // 2).mean()
    middle.plot(dates, mean, color="#c0392b", lw=1.2, label=f"mean forecast, {smooth}-day mean")
    middle.axhline(0, color="black", lw=0.6)
    middle.set_ylabel("mean forecast (log return)")
    spread = middle.twinx()
    spread.plot(dates, table["dispersion"].rolling(smooth, min_periods=smooth // 2).mean(),
                color="#d4a017", lw=1.2, label=f"dispersion, {smooth}-day mean")
    spread.set_ylabel("cross-sectional std of forecasts")
    _legend(middle, spread)
    middle.set_title("Mean forecast and dispersion across tickers", fontsize=10, loc="left")

    both = table[["breadth", "realised_breadth"]].dropna()
    same = ((both["breadth"] > 0.5) == (both["realised_breadth"] > 0.5)).astype(float)
    when = pd.to_datetime(both.index)
    bottom.plot(when, same.rolling(agree, min_periods=agree // 2).mean(), color="#2357a4",
                lw=1.2, label=f"same side of 0.5, {agree}-day share")
    bottom.plot(when, both["breadth"].rolling(agree, min_periods=agree // 2)
                .corr(both["realised_breadth"]), color="#7f8c8d", lw=1.0,
                label=f"correlation with realised breadth, {agree}-day")
    bottom.axhline(0.5, color="black", lw=0.6, ls="--", label="0.5")
    bottom.axhline(0, color="black", lw=0.6)
    bottom.set_ylabel("agreement / correlation")
    bottom.set_xlabel("date (forecast made at that close)")
    bottom.legend(fontsize=8, loc="lower left")
    bottom.set_title("Forecast breadth against the breadth that followed (share of tickers up next day)",
                     fontsize=10, loc="left")
    fig.suptitle(f"{title}\nMarket sentiment index from the out-of-sample forecasts", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _legend(left, right) -> None:
    """One legend for a panel and its twin axis."""
    lines, labels = left.get_legend_handles_labels()
    more, names = right.get_legend_handles_labels()
    left.legend(lines + more, labels + names, fontsize=8, loc="upper left", ncol=2)
