"""portfolio.png: the portfolio against its equal-weight benchmark, and what it held.

Equity alone hides how the portfolio got there; the exposure panel (gross and net, as fractions of
equity, at each close) and the number of names held show whether the return came from picking
names or simply from being in the market more or less than the benchmark.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtests.outputs.plots import _pyplot, _save


def write_portfolio_plot(path: Path, equity: pd.DataFrame, holdings: pd.DataFrame, title: str) -> None:
    """Equity of each column of `equity` (rebased to 1), drawdowns, exposure and names held."""
    plt = _pyplot()
    fig, axes = plt.subplots(4, 1, figsize=(12, 11), sharex=True,
                             gridspec_kw={"height_ratios": [2.2, 1, 1, 0.8]})
    growth = equity / equity.iloc[0]
    for name in growth.columns:
        axes[0].plot(growth.index, growth[name], lw=1.1, label=name)
        axes[1].plot(growth.index, growth[name] / growth[name].cummax() - 1, lw=0.9, label=name)
    axes[0].set_ylabel("growth of 1")
    axes[0].set_title(title, fontsize=10)
    axes[0].legend(loc="upper left", fontsize=8)
    axes[1].set_ylabel("drawdown")
    gross, net = holdings.abs().sum(axis=1), holdings.sum(axis=1)
    axes[2].plot(gross.index, gross, lw=0.9, color="tab:blue", label="gross exposure")
    axes[2].plot(net.index, net, lw=0.9, color="tab:green", label="net exposure")
    axes[2].axhline(0.0, color="grey", lw=0.6)
    axes[2].set_ylabel("fraction of equity")
    axes[2].legend(loc="upper left", fontsize=8)
    longs, shorts = (holdings > 0).sum(axis=1), (holdings < 0).sum(axis=1)
    axes[3].step(longs.index, longs, where="post", lw=0.9, color="tab:blue", label="long names")
    if shorts.any():
        axes[3].step(shorts.index, shorts, where="post", lw=0.9, color="tab:red", label="short names")
    axes[3].set_ylabel("names held")
    axes[3].set_xlabel("date (close)")
    axes[3].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
