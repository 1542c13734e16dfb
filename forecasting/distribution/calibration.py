"""Calibration of forecast distributions: PIT values, P(up) reliability and its climatology.

A calibrated forecaster's PIT values F_t(y_t) are uniform, and of the days it gives P(up) near p
about a share p rises. The climatology a P(up) has to beat is one known at the time: the share
of up h-session moves among the targets already realised at the close of t.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

RELIABILITY_BINS = 10


def pit(mean: np.ndarray, scale: np.ndarray, df: np.ndarray, realised: np.ndarray) -> np.ndarray:
    """F_t(y_t): each row's Student-t (df = inf: Gaussian) CDF at the realised return."""
    z = (np.asarray(realised, dtype=np.float64) - np.asarray(mean, dtype=np.float64)) / np.asarray(
        scale, dtype=np.float64)
    return np.asarray(stats.t.cdf(z, np.asarray(df, dtype=np.float64)), dtype=np.float64)


def pit_uniformity(values: np.ndarray, horizon: int) -> dict[str, Any]:
    """KS test of uniform PIT values on every h-th row (date order, from the first).

    h-session targets that start fewer than h sessions apart overlap, so their PIT values are
    dependent and the KS test's i.i.d. p-value would be too small; rows h sessions apart share no
    return. The histogram (10 equal bins) counts every row, for the PIT plot.
    """
    values = np.asarray(values, dtype=np.float64)
    sample = values[:: max(int(horizon), 1)]
    if len(sample):
        result = stats.kstest(sample, "uniform")
        ks, p = float(result.statistic), float(result.pvalue)
    else:
        ks = p = math.nan
    counts, _ = np.histogram(values, bins=RELIABILITY_BINS, range=(0.0, 1.0))
    return {"ks_statistic": ks, "p": p, "n": int(len(sample)),
            "histogram": [int(c) for c in counts]}


def reliability_table(p_up: np.ndarray, up: np.ndarray) -> list[dict[str, Any]]:
    """Ten equal bins of P(up) on [0, 1]: mean forecast, observed share of rises, count."""
    p_up = np.asarray(p_up, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    which = np.clip(np.floor(p_up * RELIABILITY_BINS).astype(int), 0, RELIABILITY_BINS - 1)
    rows = []
    for b in range(RELIABILITY_BINS):
        inside = which == b
        count = int(inside.sum())
        rows.append({"low": b / RELIABILITY_BINS, "high": (b + 1) / RELIABILITY_BINS,
                     "mean_forecast": float(p_up[inside].mean()) if count else math.nan,
                     "observed": float(up[inside].mean()) if count else math.nan,
                     "count": count})
    return rows


def expanding_up_share(realised: np.ndarray, horizon: int) -> np.ndarray:
    """The climatological P(up) at each position t of consecutive sessions.

    `realised[s]` is the h-session return from the close of s to the close of s + h (NaN if
    unknown); it is known at the close of t when s + h <= t. The share is Laplace's
    (1 + ups known) / (2 + targets known): 1/2 before any target is known, never 0 or 1.
    """
    r = np.asarray(realised, dtype=np.float64)
    known = ~np.isnan(r)
    up = known & (r > 0)
    cum_known = np.concatenate([[0], np.cumsum(known)])  # cum[k]: targets starting before k
    cum_up = np.concatenate([[0], np.cumsum(up)])
    upto = np.clip(np.arange(len(r)) - int(horizon) + 1, 0, None)  # starts s <= t - h
    return (1 + cum_up[upto]) / (2 + cum_known[upto])


def climatological_p_up(daily: pd.Series, dates: pd.Index, horizon: int) -> pd.Series:
    """The climatological P(up) at `dates` from a longer daily history (training days too).

    `daily` holds each session's log return from the previous close, indexed by session date;
    the h-session return ending at the close of k is known at k. Same Laplace share as
    `expanding_up_share`, so the lead can store it as distribution.csv's p_up_climatology
    column and score from the CSV alone.
    """
    ending = daily.astype(np.float64).rolling(int(horizon)).sum().to_numpy()
    known = ~np.isnan(ending)
    share = (1 + np.cumsum(known & (ending > 0))) / (2 + np.cumsum(known))
    return pd.Series(share, index=daily.index, name="p_up_climatology").reindex(dates)


def with_climatology(frame: pd.DataFrame, daily: pd.Series) -> pd.DataFrame:
    """`frame` (distribution.csv's long form, a date column) with its p_up_climatology column
    filled from the whole daily history, horizon by horizon (`climatological_p_up`)."""
    out = frame.copy()
    out["p_up_climatology"] = np.nan
    for horizon in sorted(set(out["horizon"])):
        rows = out["horizon"] == horizon
        dates = pd.DatetimeIndex(out.loc[rows, "date"])
        out.loc[rows, "p_up_climatology"] = climatological_p_up(daily, dates, int(horizon)).to_numpy()
    return out
