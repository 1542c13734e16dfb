"""Forecast skill, always next to the naive persistence forecast it has to beat.

Persistence ("tomorrow's close = today's close") forecasts a log return of zero; its implied price
is today's close. A price-level model that merely copies today's close scores well on MAPE and adds
nothing, which is why every figure here has its persistence twin and a test of the difference.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


def error_block(forecast: np.ndarray, actual: np.ndarray, close: np.ndarray) -> dict[str, float]:
    """MSE/MAE/RMSE of log returns, MAPE of the implied next price, and directional accuracy."""
    err = forecast - actual
    implied, realised = close * np.exp(forecast), close * np.exp(actual)
    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(np.abs(implied - realised) / realised) * 100),
        "directional_accuracy": float(np.mean(np.sign(forecast) == np.sign(actual))),
    }


def wilson_interval(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (sound near 0, 1 and for small n)."""
    if n == 0:
        return (math.nan, math.nan)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = hits / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return (centre - half, centre + half)


def diebold_mariano(err_model: np.ndarray, err_naive: np.ndarray) -> tuple[float, float]:
    """DM test on squared errors for one-step forecasts: (statistic, two-sided p-value).

    Negative statistic: the model's squared errors are smaller than the naive forecast's.
    Harvey-Leybourne-Newbold small-sample correction, Student-t reference.
    """
    return diebold_mariano_loss(err_model**2 - err_naive**2)


def diebold_mariano_loss(d: np.ndarray) -> tuple[float, float]:
    """DM test of a one-step loss differential d = loss_model - loss_other: (statistic, p-value).

    Any loss works (squared error above, the quantile loss of VaR forecasts); negative statistic:
    the model's loss is smaller. Harvey-Leybourne-Newbold correction, Student-t reference.
    """
    d = np.asarray(d, dtype=np.float64)
    n = len(d)
    if n < 3 or np.var(d, ddof=0) == 0:
        return (math.nan, math.nan)
    dm = d.mean() / math.sqrt(np.var(d, ddof=0) / n)
    hln = dm * math.sqrt((n - 1) / n)  # h = 1
    p = 2 * stats.t.sf(abs(hln), df=n - 1)
    return (float(hln), float(p))


def score_forecasts(predictions: pd.DataFrame, close: pd.Series) -> dict:
    """The `forecast` block of metrics.json from the walk-forward output.

    `predictions` has forecast, actual, fold (and ridge) indexed by forecast date; rows whose
    outcome is not known yet (the last bar) are left out of every score.
    """
    known = predictions.dropna(subset=["forecast", "actual"])
    f, a = known["forecast"].to_numpy(), known["actual"].to_numpy()
    c = close.reindex(known.index).to_numpy()
    model = error_block(f, a, c)
    naive = error_block(np.zeros_like(a), a, c)
    naive["directional_accuracy"] = float(np.mean(a > 0))  # "always up": the best constant guess
    hits = int(np.sum(np.sign(f) == np.sign(a)))
    low, high = wilson_interval(hits, len(a))
    dm_stat, dm_p = diebold_mariano(f - a, -a)
    block: dict[str, Any] = {
        **model,
        "directional_accuracy_ci95": [low, high],
        "theil_u": float(model["rmse"] / naive["rmse"]) if naive["rmse"] > 0 else math.nan,
        "dm_statistic": dm_stat,
        "dm_pvalue": dm_p,
        "beats_persistence": bool(model["mse"] < naive["mse"] and dm_p < 0.05),
        "samples": int(len(a)),
        "persistence": naive,
    }
    if "ridge" in known:
        b = known["ridge"].to_numpy()
        block["ridge"] = error_block(b, a, c)
        block["ridge"]["dm_statistic"], block["ridge"]["dm_pvalue"] = diebold_mariano(b - a, -a)
    block["per_fold"] = per_fold_errors(known)
    block["verdict"] = verdict(block)
    return block


def per_fold_errors(known: pd.DataFrame) -> list[dict]:
    """MSE of the model (and persistence) inside each walk-forward fold."""
    rows = []
    for fold, part in known.groupby("fold"):
        err = part["forecast"] - part["actual"]
        rows.append({"fold": int(fold), "start": part.index[0].date().isoformat(),
                     "end": part.index[-1].date().isoformat(), "samples": int(len(part)),
                     "mse": float(np.mean(err**2)), "persistence_mse": float(np.mean(part["actual"]**2))})
    return rows


def verdict(block: dict) -> str:
    """Honest sentences on whether the forecast adds anything over persistence and "always up"."""
    ratio = block["mse"] / block["persistence"]["mse"]
    p = block["dm_pvalue"]
    if block["beats_persistence"]:
        text = f"The model beats persistence: MSE {ratio:.3f}x persistence's, DM p={p:.3g}."
    elif ratio < 1:
        text = (f"The model does not reliably beat persistence: MSE {ratio:.3f}x persistence's, "
                f"but the difference is not significant (DM p={p:.3g}).")
    else:
        text = f"The model does not beat persistence: MSE {ratio:.3f}x persistence's (DM p={p:.3g})."
    hit, up = block["directional_accuracy"], block["persistence"]["directional_accuracy"]
    if math.isfinite(hit) and math.isfinite(up):
        side = "below" if hit < up else "above" if hit > up else "equal to"
        text += (f" Its directional accuracy ({100 * hit:.1f}%) is {side} the {100 * up:.1f}% of "
                 "always guessing 'up'.")
    return text
