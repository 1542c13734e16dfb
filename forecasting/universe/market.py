"""Market-wide inputs computed from the whole universe, each value at t from closes up to t only.

A cross-sectional feature sees every ticker's closes on the panel calendar (a DataFrame, one column a
ticker, NaN where a ticker has no bar) and returns one value per date. It is appended to every
ticker's own features, so the per-ticker scalers and the look-ahead audit treat it like any other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd


class MarketFeature(Protocol):
    def __call__(self, closes: pd.DataFrame) -> pd.Series: ...


def panel_log_returns(closes: pd.DataFrame) -> pd.DataFrame:
    """Each ticker's log return from its previous bar to this one (NaN where it has no bar)."""
    return closes.apply(lambda column: np.log(column.dropna()).diff()).reindex(closes.index)


@dataclass
class EqualWeightReturn:
    """The universe's equal-weight log return at t: the mean over the tickers trading that day."""

    def __call__(self, closes: pd.DataFrame) -> pd.Series:
        return panel_log_returns(closes).mean(axis=1, skipna=True).rename("market")
