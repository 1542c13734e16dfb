"""Standardisation fitted on one fold's training windows only, then applied to what it predicts."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowScaler:
    """Per-feature mean/std of the training inputs and mean/std of the training targets."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray) -> WindowScaler:
        """Fit on training samples only: X (samples, window, features), y (samples,)."""
        rows = X.reshape(-1, X.shape[-1]).astype(np.float64)
        x_std = rows.std(axis=0)
        y_std = float(np.std(y))
        return cls(x_mean=rows.mean(axis=0), x_std=np.where(x_std > 0, x_std, 1.0),
                   y_mean=float(np.mean(y)), y_std=y_std if y_std > 0 else 1.0)

    def transform_x(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.x_mean) / self.x_std).astype(np.float32)

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.y_mean) / self.y_std).astype(np.float32)

    def inverse_y(self, y_scaled: np.ndarray) -> np.ndarray:
        return np.asarray(y_scaled, dtype=np.float64) * self.y_std + self.y_mean
