"""qlib's Alpha360, the raw window: each day's OHLCV normalised so that a window carries it.

qlib's Alpha360 lists, for the last 60 days i, open/high/low/close/VWAP_(t-i) over close_t and
volume_(t-i) over volume_t. Here a window of the forecaster (forecaster.window=60) is that raw
window (conf/features/alpha360.yaml): each row holds the day's close-to-close log return
(features.LogReturn), its open, high, low and typical price (the VWAP stand-in) as logs over its
own close (alpha158.PriceToClose), and its log volume change (below). Summing the returns backwards
from the window's last row gives log(close_(t-i) / close_t), so each of qlib's 360 numbers is, in
logs, a fixed linear combination of the window's 360 values: the same information, each row known
at its own close (a ratio to day t's close cannot be a row of its own).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class VolumeChange:
    """log((1 + volume) / (1 + yesterday's volume)): finite on a day without trades."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return np.log1p(bars["Volume"]).diff()
