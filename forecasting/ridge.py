"""Ridge regression on the same windows: the linear baseline the LSTM has to beat to matter."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.base import NotFittedError, as_series
from forecasting.scaling import WindowScaler
from forecasting.windows import Windows


class RidgeForecaster:
    """Closed-form ridge on the flattened, standardised window (no TensorFlow, milliseconds a fit)."""

    uses_validation = False  # nothing to early-stop: it trains on the whole window
    bounds = {"window": "int >= 1", "alpha": "number >= 0"}  # see backtests/settings/bounds.py

    def __init__(self, *, window: int, alpha: float) -> None:  # defaults: conf/forecaster/ridge.yaml
        self.window, self.alpha = window, alpha
        self.scaler: WindowScaler | None = None
        self.coef: np.ndarray | None = None

    def _design(self, windows: Windows) -> np.ndarray:
        assert self.scaler is not None
        X = self.scaler.transform_x(windows.X[:, -self.window:, :]).astype(np.float64)
        return X.reshape(len(X), -1)

    def fit(self, train: Windows, seed: int = 0, warm_start: bool = False,
            validation: Windows | None = None) -> RidgeForecaster:
        """Closed-form fit; warm start and validation do not apply to a convex problem."""
        train = train.labelled
        self.scaler = WindowScaler.fit(train.X[:, -self.window:, :], train.y)
        A = self._design(train)
        b = self.scaler.transform_y(train.y).astype(np.float64)
        gram = A.T @ A + self.alpha * np.eye(A.shape[1])
        self.coef = np.linalg.solve(gram, A.T @ b)
        return self

    def predict(self, windows: Windows) -> pd.Series:
        if self.coef is None or self.scaler is None:
            raise NotFittedError("RidgeForecaster.predict called before fit")
        if len(windows) == 0:
            return as_series(np.empty(0), windows)
        return as_series(self.scaler.inverse_y(self._design(windows) @ self.coef), windows)
