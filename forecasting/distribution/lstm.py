"""One LSTM for the return and its uncertainty at several horizons: `forecaster=lstm_dist`.

Per fold one network predicts, for each horizon h in `horizons`, the mean and the variance of the
h-session log return (forecasting/network.py `build_distribution_lstm`): the means by squared
error, as the point LSTM does, the variances by Gaussian quasi-likelihood around them. The tails
are then fitted, not assumed: a Student-t (location 0) is fitted by maximum likelihood to each
horizon's standardised residuals on the fold's training window, so the forecast distribution is
mean + sigma * scale_z * t(df). The 1-session scale is also updated day by day by the network's
own recent residuals (forecasting/distribution/updating.py): its VaR and the risk method's read it.
Its 1-day mean is the point forecast every strategy reads.

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
from forecasting.distribution.updating import VarianceUpdate, fit_update
from forecasting.network import build_distribution_lstm
from forecasting.scaling import WindowScaler
from forecasting.training import Schedule, fit_network, newest_then_random
from forecasting.windows import Windows

MIN_HELD_OUT = 100  # held-out samples needed to fit the tails on them rather than in-sample
MAX_DF = 200.0  # tails thinner than a t(200) are Gaussian for every figure here
UPDATE_SAMPLES = 1000  # the window's last samples the 1-session scale's filter is fitted on


class DistributionLSTM:
    """Keras LSTM on windows of features: a Student-t for each horizon's log return."""

    bounds = {"window": "int >= 1", "units": "int >= 1", "layers": "int >= 1",
              "dropout": "0 <= number < 1", "epochs": "int >= 1", "warm_epochs": "int >= 0",
              "batch_size": "int >= 1", "learning_rate": "number > 0", "patience": "int >= 0",
              "warm_samples": "int >= 0"}

    def __init__(self, *, horizons: Sequence[int], window: int, units: int, layers: int,
                 dropout: float, epochs: int, warm_epochs: int, batch_size: int,
                 learning_rate: float, patience: int, warm_samples: int) -> None:
        # The next session is always one: its mean is the point forecast every strategy reads.
        self.horizons = sorted({1, *(int(h) for h in horizons)})
        if self.horizons[0] < 1:
            raise ValueError(f"forecaster.horizons must be whole numbers >= 1, got {list(horizons)}")
        self.window, self.units, self.layers, self.dropout = window, units, layers, dropout
        self.epochs, self.warm_epochs, self.batch_size = epochs, warm_epochs, batch_size
        self.learning_rate, self.patience = learning_rate, patience
        self.warm_samples = warm_samples
        self._seen: pd.Timestamp | None = None  # the last date a previous fit trained on
        self.network: Any = None
        self.model: Any = None  # the point view (1-day mean): what attributions explain
        self.scaler: WindowScaler | None = None  # inputs, and the 1-day target
        self.y_mean = self.y_std = np.zeros(0)
        self.tails: np.ndarray = np.zeros(0)   # per horizon: the fitted t's df
        self.spread: np.ndarray = np.zeros(0)  # per horizon: the fitted t's scale on residuals
        self.shrink: np.ndarray = np.zeros(0)  # per horizon: the share of the means' moves kept
        self.update = VarianceUpdate()  # the 1-session scale's filter, state at the window's end

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
        val = None
        if validation is not None and len(validation.labelled) and self.patience > 0:
            held = validation.labelled
            val = (self.scaler.transform_x(held.X), self._scaled_targets(held))
        resume = warm_start and self.network is not None
        # the whole window's: an h-session target needs the days after it
        y = ((targets - self.y_mean) / self.y_std).astype(np.float32)
        rows: Any = slice(None)
        if resume and self._seen is not None and 0 < self.warm_samples < len(train):
            rows = newest_then_random(np.asarray(train.index > self._seen), self.warm_samples,
                                      np.random.default_rng(seed))
        # a warm fold's capped sample is all that is scaled, not the whole growing window
        X, y = self.scaler.transform_x(train.X[rows]), y[rows]
        self._seen = train.index[-1]
        holder: dict[str, Any] = {}

        def build() -> Any:
            holder["network"], holder["model"] = build_distribution_lstm(
                self.window, X.shape[-1], self.horizons, self.units, self.layers,
                self.dropout, self.learning_rate)
            return holder["network"]

        self.network = fit_network(self.network, build, X, y, val, seed, resume, self.schedule,
                                   criterion=self.validation_loss)
        if "model" in holder:
            self.model = holder["model"]
        tail = validation.labelled if validation is not None else train[:0]
        # Tails and spread from residuals the fit did not see, when the held-out tail has enough:
        # in-sample residuals are smaller than the errors ahead, and intervals from them too narrow.
        enough = len(tail) >= MIN_HELD_OUT
        whole = train if len(tail) == 0 else _joined(train, tail)
        # One pass of the network over the window's recent part, in time order: the tails' rows
        # and the last UPDATE_SAMPLES, which the 1-session filter is fitted on (a longer past
        # changed its pass counts little and cost a pass over the whole growing window per fold).
        first = max(0, min(len(whole) - len(tail), len(whole) - UPDATE_SAMPLES)) if enough else 0
        recent = whole[first:]
        mean, sigma = self._moments(recent)
        rows = slice(len(recent) - len(tail), None) if enough else slice(0, len(train))
        fitted_on = tail if enough else train
        self._fit_tails(mean[rows], sigma[rows], self.targets(fitted_on), enough)
        last = slice(-UPDATE_SAMPLES, None)  # its state at the end is where the next days start
        self.update = fit_update(self._residuals(mean[last, 0], sigma[last, 0], recent.y[last]),
                                 float(self.tails[0]))
        return self

    def validation_loss(self, predicted: np.ndarray, target: np.ndarray) -> float:
        """The training loss in numpy, on the held-out tail (early stopping, the warm guard)."""
        n = len(self.horizons)
        predicted = predicted.reshape(len(target), 2 * n)
        mean, log_var = predicted[:, :n], np.clip(predicted[:, n:], -12.0, 12.0)
        known = np.isfinite(target)
        y = np.where(known, target, 0.0)
        count = max(int(known.sum()), 1)
        weights = 1.0 / np.asarray(self.horizons, dtype=np.float64)  # as the network's loss
        squared = np.sum(weights * known * (y - mean) ** 2) / count
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

    def _fit_tails(self, mean: np.ndarray, sigma: np.ndarray, targets: np.ndarray,
                   held_out: bool) -> None:
        """Per horizon: how far the means' deviations from the training mean held up (a slope
        clipped to [0, 1] on held-out windows; 1 in-sample), and the Student-t (location 0) of the
        standardised residuals around the means so shrunk."""
        shrink = [1.0] * len(self.horizons)
        if held_out:
            shrink = [held_up(mean[:, k] - self.y_mean[k], targets[:, k] - self.y_mean[k])
                      for k in range(len(self.horizons))]
        self.shrink = np.asarray(shrink)
        z = (targets - self._located(mean)) / sigma
        fitted = [t_tails(column[np.isfinite(column)]) for column in z.T]
        self.tails = np.asarray([df for df, _ in fitted])
        self.spread = np.asarray([scale for _, scale in fitted])

    def _residuals(self, mean: np.ndarray, sigma: np.ndarray, realised: np.ndarray) -> np.ndarray:
        """The 1-session residuals in units of the fitted t's standard deviation (unit variance)."""
        df = float(self.tails[0])
        sd = self.spread[0] * (np.sqrt(df / (df - 2.0)) if np.isfinite(df) else 1.0)
        located = self.y_mean[0] + self.shrink[0] * (mean - self.y_mean[0])
        return (realised - located) / (sigma * sd)

    def _located(self, mean: np.ndarray) -> np.ndarray:
        """The distributions' locations: each horizon's mean, shrunk toward the training mean."""
        return self.y_mean + self.shrink * (mean - self.y_mean)

    def predict(self, windows: Windows) -> pd.Series:
        """The 1-day mean: the point forecast (next-day log return) strategies read."""
        if len(windows) == 0:
            return as_series(np.empty(0), windows)
        return as_series(self._moments(windows)[0][:, 0], windows)

    def predict_distribution(self, test: Windows, returns: np.ndarray | None = None,
                             horizons: Sequence[int] | None = None) -> pd.DataFrame:
        """A row per test day and horizon: horizon, mean, scale, df (forecasting/distribution)."""
        mean, sigma = self._moments(test)
        return self._frame(test, mean, sigma, horizons)

    def _frame(self, test: Windows, mean: np.ndarray, sigma: np.ndarray,
               horizons: Sequence[int] | None = None) -> pd.DataFrame:
        wanted = self.horizons if horizons is None else [int(h) for h in horizons]
        located = self._located(mean)
        # The 1-session scale moves with the errors of the days before each row (test.y of row t
        # is known at the close of t + 1, so row t + 1 may read it): rows follow the window in order.
        updated = self.update.multipliers(self._residuals(mean[:, 0], sigma[:, 0], test.y))
        by_horizon = {}
        for column, h in enumerate(self.horizons):
            if h in wanted:
                multiplier = updated if h == 1 else 1.0
                by_horizon[h] = (located[:, column],
                                 sigma[:, column] * self.spread[column] * multiplier,
                                 self.tails[column])
        return distribution_frame(test.index, by_horizon)

    def distribution_columns(self, test: Windows) -> pd.DataFrame:
        """The point forecast and the distribution as columns, from one pass of the network:
        forecast (the unshrunk 1-day mean, as the point LSTM's), mean_h1, scale_h1, df_h1, ..."""
        mean, sigma = self._moments(test)
        frame = self._frame(test, mean, sigma)
        wide = {"forecast": mean[:, 0]}
        for h, part in frame.groupby("horizon", sort=True):
            for name in ("mean", "scale", "df"):
                wide[f"{name}_h{h}"] = part[name].to_numpy()
        return pd.DataFrame(wide, index=test.index)


def _joined(a: Windows, b: Windows) -> Windows:
    return Windows(np.concatenate([a.X, b.X]), np.concatenate([a.y, b.y]), a.index.append(b.index))


def held_up(deviation: np.ndarray, outcome: np.ndarray) -> float:
    """The slope of the outcomes' deviations on the forecasts' (through 0), clipped to [0, 1]:
    1 when the forecasts' moves held up out of sample in full, 0 when they were noise."""
    known = np.isfinite(deviation) & np.isfinite(outcome)
    d, e = deviation[known], outcome[known]
    energy = float(np.sum(d * d))
    return float(np.clip(np.sum(d * e) / energy, 0.0, 1.0)) if energy > 0 else 0.0


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
