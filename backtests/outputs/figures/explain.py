"""The attribution figures: importances with their spread, a feature x lag heatmap, drift lines."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtests.outputs.plots import _pyplot, _save


def lag_label(block: object) -> str:
    """"lag 1" or "lags 2-5" for a lag block named "1" or "2-5"."""
    return f"lag{'s' if '-' in str(block) else ''} {block}"


def percent_of_mse(table: pd.DataFrame) -> float:
    """The factor that turns an importance table's MSE figures into % of the model's own MSE."""
    both = table[["permutation_mse_increase", "permutation_mse_increase_pct"]].dropna()
    both = both[both["permutation_mse_increase"] != 0]
    if both.empty:
        return float("nan")
    return float(both["permutation_mse_increase_pct"].iloc[0] / both["permutation_mse_increase"].iloc[0])


def write_importance_plot(path: Path, features: pd.DataFrame, blocks: pd.DataFrame,
                          model: str) -> None:
    """Permutation MSE increase (+-2 standard errors) and gradient share per feature and lag block.

    Features are drawn in rank order (permutation importance, rank 1 on top) in both left panels,
    so a feature the network looks at but gains nothing from stands out.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.9 + 0.42 * max(len(features), 4)),
                             gridspec_kw={"width_ratios": [4, 3, 3]})
    order = features.sort_values("rank", ascending=False)
    scale = percent_of_mse(features)
    y = np.arange(len(order))
    axes[0].barh(y, scale * order["permutation_mse_increase"],
                 xerr=2 * scale * order["permutation_std"], color="tab:blue", ecolor="black",
                 capsize=3)
    axes[0].set_yticks(y, order["feature"])
    axes[0].set_title("MSE increase when shuffled, % (bars: ±2 s.e.)", fontsize=10)
    share = order["integrated_gradients"] / order["integrated_gradients"].sum()
    axes[1].barh(y, 100 * share, color="tab:orange")
    axes[1].set_yticks(y, [])
    axes[1].set_title("share of integrated gradients, %", fontsize=10)
    yb = np.arange(len(blocks))[::-1]
    axes[2].barh(yb, scale * blocks["permutation_mse_increase"],
                 xerr=2 * scale * blocks["permutation_std"], color="tab:green", ecolor="black",
                 capsize=3)
    axes[2].set_yticks(yb, [lag_label(name) for name in blocks["lags"]])
    axes[2].set_title("MSE increase, lag blocks shuffled, %", fontsize=10)
    for ax in (axes[0], axes[2]):
        ax.axvline(0, color="black", lw=0.6)
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


def write_drift_plot(path: Path, folds: pd.DataFrame, model: str, smooth: int = 6) -> None:
    """Each feature's share of the integrated gradients per refit, by the fold's first date.

    A fold explains only ~21 forecasts, so its shares move with the days as well as the model:
    thin lines are the folds, thick ones a `smooth`-refit rolling mean, where a change that lasts
    shows.
    """
    plt = _pyplot()
    share = folds.pivot(index="start", columns="feature", values="integrated_gradients_share")
    share = 100 * share[list(dict.fromkeys(folds["feature"]))]
    share.index = pd.to_datetime(share.index)
    rolling = share.rolling(smooth, min_periods=1, center=True).mean()
    fig, ax = plt.subplots(figsize=(11, 4.2))
    colours = plt.get_cmap("tab10")
    for i, feature in enumerate(share.columns):
        ax.plot(share.index, share[feature], lw=0.5, alpha=0.35, color=colours(i % 10))
        ax.plot(share.index, rolling[feature], lw=1.8, color=colours(i % 10), label=feature)
    ax.set_ylabel("share of attribution, %")
    ax.set_xlabel("first day predicted by the refit")
    ax.set_ylim(0, None)
    ax.set_title(f"Drift: what each {model} refit looks at (integrated gradients; thick: "
                 f"{smooth}-refit mean)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, ncol=min(len(share.columns), 7))
    fig.tight_layout()
    _save(fig, path)
