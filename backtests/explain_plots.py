"""The attribution figures: importances with their spread, a feature x lag heatmap, drift lines."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtests.plots import _pyplot, _save


def write_importance_plot(path: Path, features: pd.DataFrame, blocks: pd.DataFrame,
                          model: str) -> None:
    """Permutation MSE increase (+-2 standard errors) and gradient share per feature and lag block."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.9 + 0.42 * max(len(features), 4)),
                             gridspec_kw={"width_ratios": [4, 3, 3]})
    order = features.sort_values("integrated_gradients")
    y = np.arange(len(order))
    axes[0].barh(y, order["permutation_mse_increase"], xerr=2 * order["permutation_std"],
                 color="tab:blue", ecolor="black", capsize=3)
    axes[0].axvline(0, color="black", lw=0.6)
    axes[0].set_yticks(y, order["feature"])
    axes[0].set_title("MSE increase when shuffled (bars: ±2 s.e.)", fontsize=10)
    share = order["integrated_gradients"] / order["integrated_gradients"].sum()
    axes[1].barh(y, share, color="tab:orange")
    axes[1].set_yticks(y, [])
    axes[1].set_title("share of integrated gradients", fontsize=10)
    yb = np.arange(len(blocks))[::-1]
    axes[2].barh(yb, blocks["permutation_mse_increase"], xerr=2 * blocks["permutation_std"],
                 color="tab:green", ecolor="black", capsize=3)
    axes[2].axvline(0, color="black", lw=0.6)
    axes[2].set_yticks(yb, [f"lags {name}" for name in blocks["lags"]])
    axes[2].set_title("MSE increase, lag blocks shuffled", fontsize=10)
    for ax in (axes[0], axes[2]):
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
    fig.suptitle(f"What the {model} forecasts rest on (out-of-sample, all folds)", fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def write_lag_heatmap(path: Path, lags: pd.DataFrame, model: str) -> None:
    """Mean |integrated gradient| per feature and lag, lag 1 (the latest bar) on the left."""
    plt = _pyplot()
    grid = lags.pivot(index="feature", columns="lag", values="integrated_gradients")
    grid = grid.loc[list(dict.fromkeys(lags["feature"]))]  # feature order as configured
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.38 * len(grid)))
    image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(np.arange(len(grid)), grid.index)
    step = max(1, len(grid.columns) // 15)
    ticks = np.arange(0, len(grid.columns), step)
    ax.set_xticks(ticks, grid.columns[ticks])
    ax.set_xlabel("lag (bars before the forecast; 1 = the forecast day's own bar)")
    ax.set_title(f"{model}: mean |integrated gradient| per feature and lag (log-return units)",
                 fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    fig.tight_layout()
    _save(fig, path)


def write_drift_plot(path: Path, folds: pd.DataFrame, model: str) -> None:
    """Each feature's share of the integrated gradients per refit, by the fold's first date."""
    plt = _pyplot()
    share = folds.pivot(index="start", columns="feature", values="integrated_gradients_share")
    share = share[list(dict.fromkeys(folds["feature"]))]
    share.index = pd.to_datetime(share.index)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    colours = plt.get_cmap("tab10")
    for i, feature in enumerate(share.columns):
        ax.plot(share.index, share[feature], lw=1.2, color=colours(i % 10), label=feature,
                marker="." if len(share) < 30 else None)
    ax.set_ylabel("share of attribution")
    ax.set_xlabel("first day predicted by the refit")
    ax.set_ylim(0, None)
    ax.set_title(f"Drift: what each {model} refit looks at (integrated gradients per fold)",
                 fontsize=10)
    ax.legend(loc="upper left", fontsize=8, ncol=min(len(share.columns), 7))
    fig.tight_layout()
    _save(fig, path)
