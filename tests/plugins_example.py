"""Your own forecaster and feature, plugged in by configuration alone (docs/plugins.md)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.base import NotFittedError, as_series
from forecasting.windows import Windows


@dataclass
class OvernightGap:
    """log(Open / previous Close): the overnight gap, known at the open of t, so past-only at t."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return np.log(bars["Open"] / bars["Close"].shift(1))


class MeanReturnForecaster:
    """Tomorrow's log return = the mean of the last `lookback` daily log returns.

    It reads feature number `column` of each window (0: `log_return`, the first of the default
    features) and fits nothing, but it keeps the contract every forecaster keeps.
    """

    uses_validation = False  # no early stopping: the walk-forward gives fit() the whole window
    bounds = {"window": "int >= 1", "lookback": "int >= 1", "column": "int >= 0"}  # checked first

    def __init__(self, *, window: int, lookback: int, column: int) -> None:  # defaults: its YAML
        self.window, self.lookback, self.column = window, lookback, column
        self.fitted = False

    def fit(self, train: Windows, seed: int = 0, warm_start: bool = False,
            validation: Windows | None = None) -> MeanReturnForecaster:
        self.fitted = True  # a real model learns from train.labelled.X and train.labelled.y here
        return self

    def predict(self, windows: Windows) -> pd.Series:
        if not self.fitted:
            raise NotFittedError("MeanReturnForecaster.predict called before fit")
        recent = windows.X[:, -self.lookback:, self.column].astype(np.float64)
        return as_series(recent.mean(axis=1), windows)  # indexed by each window's last date
