"""Permutation importance: how much worse the forecasts get when one input group is shuffled.

Shuffling a group of inputs (one feature at every lag, or every feature in a block of lags) across
the test windows keeps its distribution but cuts its link to the target; the rise in MSE and the fall
in directional accuracy are what the forecaster got from that group. It needs only `predict`, so it
applies to every forecaster as is. All shuffled copies of a fold go through one `predict` call:
one batched call costs a few milliseconds where one call per copy would cost ~2 ms each.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.base import Forecaster
from forecasting.windows import Windows


def feature_masks(window: int, features: int) -> list[np.ndarray]:
    """One (window, features) mask per feature: that feature at every lag."""
    masks = []
    for k in range(features):
        mask = np.zeros((window, features), dtype=bool)
        mask[:, k] = True
        masks.append(mask)
    return masks


def lag_blocks(window: int, upper_ends: list[int]) -> list[tuple[int, int]]:
    """Lag ranges (first, last), lag 1 being the window's last bar: [1, 5, 20] -> 1, 2-5, 6-20, 21-window."""
    blocks, first = [], 1
    for end in sorted({int(e) for e in upper_ends}) + [window]:
        end = min(end, window)
        if end >= first:
            blocks.append((first, end))
            first = end + 1
    return blocks


def lag_masks(window: int, features: int, blocks: list[tuple[int, int]]) -> list[np.ndarray]:
    """One mask per lag block: every feature at those lags (lag l sits at window position -l)."""
    masks = []
    for first, last in blocks:
        mask = np.zeros((window, features), dtype=bool)
        mask[window - last:window - first + 1, :] = True
        masks.append(mask)
    return masks


def permutation_importance(forecaster: Forecaster, windows: Windows, masks: list[np.ndarray],
                           repeats: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """MSE increase and directional-accuracy drop per input group, on the labelled windows.

    Returns `base_mse`, the unshuffled forecasts' MSE; `mse` and `accuracy` (repeats, groups):
    the fold's figure for each seeded shuffle; and
    `mse_var`, `accuracy_var` (groups,): the variance over windows of each window's change
    (averaged over the repeats), from which the pooled figure's standard error follows. That
    error covers which days happened to be tested as well as the luck of the shuffles; the spread
    over repeats alone covers only the latter and calls noise significant (the tests showed it).
    """
    scored = windows.labelled
    n, groups = len(scored), len(masks)
    if n < 2 or groups == 0:
        empty = np.full((repeats, groups), np.nan)
        return {"base_mse": np.nan, "mse": empty, "accuracy": empty, "mse_var": empty[0],
                "accuracy_var": empty[0]}
    copies = np.empty((repeats * groups + 1, *scored.X.shape), dtype=scored.X.dtype)
    copies[0] = scored.X
    for r in range(repeats):
        for g, mask in enumerate(masks):
            shuffled = scored.X.copy()
            shuffled[:, mask] = scored.X[rng.permutation(n)][:, mask]
            copies[1 + r * groups + g] = shuffled
    flat = copies.reshape(-1, *scored.X.shape[1:])
    stacked = Windows(flat, np.tile(scored.y, len(copies)),
                      pd.DatetimeIndex(np.tile(scored.index.to_numpy(), len(copies))))
    predicted = np.asarray(forecaster.predict(stacked), dtype=np.float64).reshape(len(copies), n)
    errors = (predicted - scored.y) ** 2
    hits = (np.sign(predicted) == np.sign(scored.y)).astype(float)
    mse = (errors[1:] - errors[0]).reshape(repeats, groups, n)
    accuracy = (hits[0] - hits[1:]).reshape(repeats, groups, n)
    return {"base_mse": float(errors[0].mean()), "mse": mse.mean(axis=2), "accuracy": accuracy.mean(axis=2),
            "mse_var": mse.mean(axis=0).var(axis=1), "accuracy_var": accuracy.mean(axis=0).var(axis=1)}
