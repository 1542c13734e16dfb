"""The distribution-method contract, and the frame every method returns.

A method forecasts, at the close of each test day t and for each horizon h, the distribution of
the h-session log return from the close of t to the close of t+h, from what is known at the close
of t: the windows (past-only features) and the daily returns up to t. Every distribution here is a
location-scale Student-t: `mean` (its location, also its mean when df > 1), `scale` (the t's scale
parameter s, whose standard deviation is s * sqrt(df / (df - 2))) and `df` (inf: Gaussian, and
then `scale` is the standard deviation). scipy.stats.t(df, loc=mean, scale=scale) is the
distribution, and scoringrules' crps_t(obs, df, location, scale) its CRPS.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import stats

from forecasting.windows import Windows

COLUMNS = ("horizon", "mean", "scale", "df")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class DistributionMethod(Protocol):
    """Fits on a fold's training windows; forecasts each test day from the returns known then."""

    @property
    def uses_validation(self) -> bool:
        """True when fit() early-stops on the walk-forward's held-out tail (a network)."""
        ...

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> object: ...

    def predict_distribution(self, test: Windows, returns: np.ndarray,
                             horizons: Sequence[int]) -> pd.DataFrame:
        """`distribution_frame(test.index, ...)`: a row per test day and horizon.

        `returns`: the daily log returns known before the last test day, as the risk methods get
        them (forecasting/risk/base.py `first_test_position`: test day k may use
        returns[:first + k]).
        """
        ...


def distribution_frame(index: pd.DatetimeIndex,
                       by_horizon: Mapping[int, tuple[np.ndarray, np.ndarray, np.ndarray | float]]
                       ) -> pd.DataFrame:
    """Rows date x horizon (horizon by horizon, dates in order): horizon, mean, scale, df."""
    parts = []
    for horizon, (mean, scale, df) in sorted(by_horizon.items()):
        parts.append(pd.DataFrame({"horizon": int(horizon),
                                   "mean": np.asarray(mean, dtype=np.float64),
                                   "scale": np.asarray(scale, dtype=np.float64),
                                   "df": np.broadcast_to(np.asarray(df, dtype=np.float64),
                                                         len(index))}, index=index))
    frame = pd.concat(parts)
    frame.index.name = "date"
    return frame


def quantiles(frame: pd.DataFrame, levels: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """The distributions' quantiles, a column per level named q05, q25, ..."""
    out = {}
    for level in levels:
        z = stats.t.ppf(level, frame["df"].to_numpy(dtype=np.float64))
        out[quantile_name(level)] = frame["mean"].to_numpy() + frame["scale"].to_numpy() * z
    return pd.DataFrame(out, index=frame.index)


def p_up(frame: pd.DataFrame) -> pd.Series:
    """P(the h-session log return > 0) under each row's distribution."""
    z = -frame["mean"].to_numpy(dtype=np.float64) / frame["scale"].to_numpy(dtype=np.float64)
    return pd.Series(stats.t.sf(z, frame["df"].to_numpy(dtype=np.float64)), index=frame.index,
                     name="p_up")


def quantile_name(level: float) -> str:
    """q05 for 0.05, q50 for 0.5, q975 for 0.975."""
    text = f"{level:.3f}".split(".")[1].rstrip("0")
    return f"q{text.ljust(2, '0')}"


def horizon_returns(daily: np.ndarray, horizon: int) -> np.ndarray:
    """The h-session log return starting at each position: daily[i] + ... + daily[i + h - 1]
    (NaN where it would run past the end or cross a NaN): a target, known h closes later."""
    daily = np.asarray(daily, dtype=np.float64)
    out = np.full(len(daily), np.nan)
    if horizon <= len(daily):
        sums = np.convolve(daily, np.ones(horizon), mode="valid")
        out[: len(sums)] = sums
    return out
