"""The LSTM's risk forecast: a second small network on the same windows predicts next-day variance.

Design: the network outputs the log-variance of the (fold-standardised) next-day return and is
trained by Gaussian negative log-likelihood, a quasi-likelihood that estimates the conditional
variance consistently whatever the return distribution. The tails are not assumed normal: VaR and
ES come from the empirical distribution of the training window's standardised residuals
z = (y - mean) / sigma_hat (filtered historical simulation), so fat tails in the training data
carry into the 99% figures. One output, one loss: cheaper and steadier than separate quantile
heads for 1% and 5% (which would see only 1 in 100 training targets in their tail) and it gives the
volatility, VaR and ES from one coherent distribution.

It reuses the return LSTM's training loop (scaling per fold, warm starts, early stopping on the
walk-forward's held-out tail), so its cost is one more tiny network per fold.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from forecasting.base import NotFittedError
from forecasting.lstm import LSTMForecaster
from forecasting.risk.base import risk_frame
from forecasting.risk.distributions import empirical_var_es
from forecasting.windows import Windows


class LSTMVolatility(LSTMForecaster):
    """LSTM log-variance head + filtered historical simulation of its standardised residuals."""

    loss = "gaussian_nll"
    # Fixed, no setting: the size and the schedule are conf/risk_model's lstm_* settings.
    fixed: ClassVar[dict[str, Any]] = {"layers": 1, "dropout": 0.0, "batch_size": 256,
                                       "learning_rate": 1e-3, "patience": 3}

    def __init__(self, *, window: int, units: int, epochs: int, warm_epochs: int) -> None:
        super().__init__(window=window, units=units, epochs=epochs, warm_epochs=warm_epochs,
                         **self.fixed)
        self.residuals: np.ndarray | None = None

    @staticmethod
    def validation_loss(predicted: np.ndarray, target: np.ndarray) -> float:
        s = np.clip(predicted, -12.0, 12.0)
        return float(0.5 * np.mean(s + target**2 * np.exp(-s)))

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> LSTMVolatility:
        """Fit the variance network, then keep the standardised residuals of the whole window."""
        super().fit(train, seed, warm_start, validation)
        whole = train.labelled if validation is None else _joined(train.labelled, validation.labelled)
        mean, sigma = self._moments(whole)
        self.residuals = (whole.y - mean) / sigma
        return self

    def _moments(self, windows: Windows) -> tuple[float, np.ndarray]:
        """The training mean and the predicted volatility of each window's next-day return."""
        if self.model is None or self.scaler is None:
            raise NotFittedError("LSTMVolatility used before fit")
        s = np.asarray(self.model.predict_on_batch(self.scaler.transform_x(windows.X)))
        s = np.clip(s.reshape(-1).astype(np.float64), -12.0, 12.0)
        return self.scaler.y_mean, self.scaler.y_std * np.exp(s / 2)

    def predict_risk(self, test: Windows, returns: np.ndarray,
                     levels: Sequence[float]) -> pd.DataFrame:
        """Volatility, VaR and ES per test window; `returns` is not needed (the windows hold it)."""
        if self.residuals is None:
            raise NotFittedError("LSTMVolatility.predict_risk called before fit")
        if len(test) == 0:
            return risk_frame(test, np.empty(0), {level: (np.empty(0), np.empty(0)) for level in levels})
        mean, sigma = self._moments(test)
        by_level = {}
        for level in levels:
            var_z, es_z = empirical_var_es(self.residuals, level)
            by_level[level] = (-mean + sigma * var_z, -mean + sigma * es_z)
        return risk_frame(test, sigma, by_level)


def _joined(a: Windows, b: Windows) -> Windows:
    return Windows(np.concatenate([a.X, b.X]), np.concatenate([a.y, b.y]), a.index.append(b.index))
