"""The book's risk figures: where its volatility comes from over time, and its VaR bands.

A book's risk is rarely spread like its weights: a small position in a volatile name that moves
with the rest can carry more of it than a large one in a quiet hedge. So the contributions plot
draws the Euler shares of sigma_p (they add up to 1 each day; a hedge's share is negative and is
drawn below zero), the largest names by themselves and the rest as "others", and beside it the
latest day's contributions. The VaR bands are risk.png's plot drawn on the portfolio rows alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtests.outputs.figures.risk import write_risk_plot
from backtests.outputs.plots import _pyplot, _save
from backtests.pipeline.universe_risk import PORTFOLIO

OTHERS = "others"


def top_shares(shares: pd.DataFrame, top: int = 8) -> pd.DataFrame:
    """The `top` names by mean absolute share (largest first), the rest summed as "others"."""
    order = shares.abs().mean().sort_values(ascending=False, kind="stable").index
    kept = shares[order[:top]].copy()
    if len(order) > top:
        kept[OTHERS] = shares[order[top:]].sum(axis=1)
    return kept


def write_contribution_plot(path: Path, shares: pd.DataFrame, latest: pd.Series, title: str,
                            top: int = 8) -> None:
    """Stacked shares of sigma_p over time (top names + others) and the latest contributions."""
    plt = _pyplot()
    fig, (area, bars) = plt.subplots(1, 2, figsize=(13, 5.2), width_ratios=[2.6, 1])
    drawn = top_shares(shares, top)
    colours = plt.get_cmap("tab10")
    dates = pd.to_datetime(drawn.index)
    up, down = np.zeros(len(drawn)), np.zeros(len(drawn))
    for i, name in enumerate(drawn.columns):
        value = drawn[name].to_numpy(dtype=np.float64)
        colour = "0.7" if name == OTHERS else colours(i % 10)
        pos, neg = np.clip(value, 0, None), np.clip(value, None, 0)
        area.fill_between(dates, up, up + pos, color=colour, lw=0, label=str(name))
        area.fill_between(dates, down, down + neg, color=colour, lw=0)
        up, down = up + pos, down + neg
    area.axhline(0, color="black", lw=0.6)
    area.axhline(1, color="black", lw=0.6, ls=":")
    area.set_ylabel("share of the book's volatility")
    area.set_title("Euler risk contributions as shares of sigma_p (a hedge's share is negative)",
                   fontsize=10, loc="left")
    area.legend(loc="upper left", fontsize=7, ncol=3)
    order = latest[latest != 0].sort_values(kind="stable")  # names not held are left out
    bars.barh([str(t) for t in order.index], order.to_numpy(dtype=np.float64),
              color=["tab:green" if v < 0 else "tab:blue" for v in order])
    bars.axvline(0, color="black", lw=0.6)
    total = float(latest.sum())
    as_shares = abs(total - 1.0) < 1e-9  # shares of sigma_p, or contributions in its units
    when = f" on {latest.name.date()}" if isinstance(latest.name, pd.Timestamp) else ""
    bars.set_title(f"Latest{when}" + ("" if as_shares else f" (sum: sigma_p = {total:.4g})"),
                   fontsize=10, loc="left")
    bars.set_xlabel("share of the book's volatility" if as_shares
                    else "contribution to the daily volatility")
    bars.tick_params(axis="y", labelsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def write_portfolio_var_plot(path: Path, var: pd.DataFrame, title: str) -> None:
    """The portfolio's VaR bands and exceedances: write_risk_plot on var.csv's portfolio rows."""
    write_risk_plot(path, var[var["asset"] == PORTFOLIO], title)
