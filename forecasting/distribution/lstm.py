"""One LSTM for the return and its uncertainty at several horizons: `forecaster=lstm_dist`.

Per fold one network predicts, for each horizon h in `horizons`, the mean and the variance of the
h-session log return (forecasting/network.py `build_distribution_lstm`): the means by squared
error, as the point LSTM does, the variances by Gaussian quasi-likelihood around them. The tails
are then fitted, not assumed: a Student-t (location 0) is fitted by maximum likelihood to each
horizon's standardised residuals on the fold's training window, so the forecast distribution is
mean + sigma * scale_z * t(df). Its 1-day mean is the point forecast every strategy reads.

No look-ahead: an h-session target starting at sample i needs the daily returns of samples
i..i+h-1, so it is computed from the training window's own targets and is unknown (purged, weight
0 in the loss) for the last h-1 samples of the window, and again at the edge of the held-out
validation tail. The scalers of the inputs and of each horizon's target see the fold's training
window only.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from forecasting.base import NotFittedError, as_series
from forecasting.distribution.base import distribution_frame, horizon_returns
from forecasting.network import build_distribution_lstm
from forecasting.scaling import WindowScaler
from forecasting.training import Schedule, fit_network
from forecasting.windows import Windows

MAX_DF = 200.0  # tails thinner than a t(200) are Gaussian for every figure here


class DistributionLSTM:
    """Keras LSTM on windows of features: a Student-t for each horizon's log return."""

    bounds = {"window": "int >= 1", "units": "int >= 1", "layers": "int >= 1",
              "dropout": "0 <= number < 1", "epochs": "int >= 1", "warm_epochs": "int >= 0",
              "batch_size": "int >= 1", "learning_rate": "number > 0", "patience": "int >= 0"}

    def __init__(self, *, horizons: Sequence[int], window: int, units: int, layers: int,
                 dropout: float, epochs: int, warm_epochs: int, batch_size: int,
                 learning_rate: float, patience: int) -> None:
        # The next session is always one: its mean is the point forecast every strategy reads.
        self.horizons = sorted({1, *(int(h) for h in horizons)})
        if self.horizons[0] < 1:
            raise ValueError(f"forecaster.horizons must be whole numbers >= 1, got {list(horizons)}")
        self.window, self.units, self.layers, self.dropout = window, units, layers, dropout
        self.epochs, self.warm_epochs, self.batch_size = epochs, warm_epochs, batch_size
        self.learning_rate, self.patience = learning_rate, patience
        self.network: Any = None
        self.model: Any = None  # the point view (1-day mean): what attributions explain
        self.scaler: WindowScaler | None = None  # inputs, and the 1-day target
        self.y_mean = self.y_std = np.zeros(0)
        self.tails: np.ndarray = np.zeros(0)   # per horizon: the fitted t's df
        self.spread: np.ndarray = np.zeros(0)  # per horizon: the fitted t's scale on residuals

    @property
    def uses_validation(self) -> bool:
        return self.patience > 0

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.epochs, self.warm_epochs, self.batch_size, self.patience)

    def targets(self, windows: Windows) -> np.ndarray:
        """(samples, horizons): each horizon's log return from the windows' own daily targets."""
        return np.column_stack([horizon_returns(windows.y, h) for h in self.horizons])

    def _scaled_targets(self, windows: Windows) -> np.ndarray:
        return ((self.targets(windows) - self.y_mean) / self.y_std).astype(np.float32)

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> DistributionLSTM:
        """Fit on the labelled windows, early-stopping on `validation`; then fit the tails."""
        train = train.labelled
        self.scaler = WindowScaler.fit(train.X, train.y)
        targets = self.targets(train)
        self.y_mean = np.nanmean(targets, axis=0)
        spread = np.nanstd(targets, axis=0)
        self.y_std = np.where(spread > 0, spread, 1.0)
        self.y_mean[0], self.y_std[0] = self.scaler.y_mean, self.scaler.y_std  # the same scaler
        X, y = self.scaler.transform_x(train.X), self._scaled_targets(train)
        val = None
        if validation is not None and len(validation.labelled) and self.patience > 0:
            held = validation.labelled
            val = (self.scaler.transform_x(held.X), self._scaled_targets(held))
        resume = warm_start and self.network is not None
        holder: dict[str, Any] = {}

        def build() -> Any:
            holder["network"], holder["model"] = build_distribution_lstm(
                self.window, X.shape[-1], len(self.horizons), self.units, self.layers,
                self.dropout, self.learning_rate)
            return holder["network"]

        self.network = fit_network(self.network, build, X, y, val, seed, resume, self.schedule,
                                   criterion=self.validation_loss)
        if "model" in holder:
            self.model = holder["model"]
        whole = train if validation is None else _joined(train, validation.labelled)
        self._fit_tails(whole)
        return self

    def validation_loss(self, predicted: np.ndarray, target: np.ndarray) -> float:
        """The training loss in numpy, on the held-out tail (early stopping, the warm guard)."""
        n = len(self.horizons)
        predicted = predicted.reshape(len(target), 2 * n)
        mean, log_var = predicted[:, :n], np.clip(predicted[:, n:], -12.0, 12.0)
        known = np.isfinite(target)
        y = np.where(known, target, 0.0)
        count = max(int(known.sum()), 1)
        squared = np.sum(known * (y - mean) ** 2) / count
        nll = np.sum(known * 0.5 * (log_var + (y - mean) ** 2 * np.exp(-log_var))) / count
        return float(squared + nll)

    def _moments(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sigma) per window and horizon, in log-return units."""
        if self.network is None or self.scaler is None:
            raise NotFittedError("DistributionLSTM used before fit")
        out = np.asarray(self.network.predict_on_batch(self.scaler.transform_x(windows.X)),
                         dtype=np.float64)
        n = len(self.horizons)
        mean = out[:, :n] * self.y_std + self.y_mean
        sigma = np.exp(np.clip(out[:, n:], -12.0, 12.0) / 2) * self.y_std
        return mean, sigma

    def _fit_tails(self, windows: Windows) -> None:
        """Each horizon's Student-t (location 0) fitted to the window's standardised residuals."""
        mean, sigma = self._moments(windows)
        z = (self.targets(windows) - mean) / sigma
        fitted = [t_tails(column[np.isfinite(column)]) for column in z.T]
        self.tails = np.asarray([df for df, _ in fitted])
        self.spread = np.asarray([scale for _, scale in fitted])

    def predict(self, windows: Windows) -> pd.Series:
        """The 1-day mean: the point forecast (next-day log return) strategies read."""
        if len(windows) == 0:
            return as_series(np.empty(0), windows)
        return as_series(self._moments(windows)[0][:, 0], windows)

    def predict_distribution(self, test: Windows, returns: np.ndarray | None = None,
                             horizons: Sequence[int] | None = None) -> pd.DataFrame:
        """A row per test day and horizon: horizon, mean, scale, df (forecasting/distribution)."""
        mean, sigma = self._moments(test)
        wanted = self.horizons if horizons is None else [int(h) for h in horizons]
        by_horizon = {}
        for column, h in enumerate(self.horizons):
            if h in wanted:
                by_horizon[h] = (mean[:, column], sigma[:, column] * self.spread[column],
                                 self.tails[column])
        return distribution_frame(test.index, by_horizon)

    def distribution_columns(self, test: Windows) -> pd.DataFrame:
        """The distribution as columns beside the forecasts: mean_h1, scale_h1, df_h1, ..."""
        frame = self.predict_distribution(test)
        wide = {}
        for h, part in frame.groupby("horizon", sort=True):
            for name in ("mean", "scale", "df"):
                wide[f"{name}_h{h}"] = part[name].to_numpy()
        return pd.DataFrame(wide, index=test.index)


def t_tails(z: np.ndarray) -> tuple[float, float]:
    """(df, scale) of the Student-t (location 0) that fits residuals `z` best among those with
    their variance: df by maximum profile likelihood (a bounded 1-D search, ~5 ms where a full
    `stats.t.fit` takes ~40 ms a call), inf when the tails are no heavier than a t(200)'s."""
    variance = float(np.var(z)) if len(z) > 1 else 1.0
    if len(z) < 30 or variance <= 0:
        return np.inf, float(np.sqrt(variance)) if variance > 0 else 1.0

    def loss(log_df: float) -> float:
        df = np.exp(log_df)
        return -float(np.sum(stats.t.logpdf(z, df, scale=np.sqrt(variance * (df - 2) / df))))

    found = optimize.minimize_scalar(loss, bounds=(np.log(2.05), np.log(MAX_DF)), method="bounded",
                                     options={"xatol": 1e-3})
    df = float(np.exp(found.x))
    if df >= MAX_DF * 0.99:
        return np.inf, float(np.sqrt(variance))
    return df, float(np.sqrt(variance * (df - 2) / df))


def _joined(a: Windows, b: Windows) -> Windows:
    return Windows(np.concatenate([a.X, b.X]), np.concatenate([a.y, b.y]), a.index.append(b.index))
