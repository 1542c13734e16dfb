"""The forecaster contract the walk-forward loop relies on (after qlib's fit / predict -> Series)."""
from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from forecasting.windows import Windows


class Forecaster(Protocol):
    """Fits on labelled windows and predicts the next log return for each window's last date."""

    window: int
    # True when fit() early-stops on a held-out `validation` tail; a forecaster that does not
    # (a closed-form fit) is given the whole training window instead of losing that tail.
    uses_validation: bool

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> Forecaster: ...

    def predict(self, windows: Windows) -> pd.Series: ...


class NotFittedError(RuntimeError):
    """predict() was called before fit()."""


def as_series(values: np.ndarray, windows: Windows) -> pd.Series:
    """Predictions as a Series indexed by the date each forecast is made (the window's last close)."""
    return pd.Series(np.asarray(values, dtype=np.float64).reshape(-1), index=windows.index,
                     name="forecast")
