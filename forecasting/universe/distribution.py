"""The global model with the distribution network's 1-session heads: a forecast and its risk at once.

With forecaster=lstm_dist (the default) the global model is `GlobalDistributionLSTM`: the global
LSTM's trunk, and on it the scaled next-day return's mean and log-variance, trained as the
single-ticker distribution network's are (mean by squared error, variance by Gaussian
quasi-likelihood around it, forecasting/network.py). Each fold then fits, pooled over every
ticker, how far the means' moves held up out of sample (a slope clipped to [0, 1]) and the
Student-t of the standardised residuals on the held-out validation dates, as DistributionLSTM
does for one ticker: one tail shape shared by all names, each name's own scale from the network.
The `lstm` risk method reads that 1-session Student-t (forecasting/risk/from_distribution.py), so
500 names need no risk network of their own (docs/universes.md, "Risk forecasts").

Only the `raw` target: an excess return's or a rank's spread says nothing about a ticker's own
risk (universe.target=excess or csrank keeps the point model; the risk stage then trains its own).
No look-ahead: the tails see the fold's held-out training dates only, whose outcomes were known
when the fold was fitted (fold_samples).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.base import NotFittedError
from forecasting.distribution.lstm import MIN_HELD_OUT, held_up, t_tails
from forecasting.network import build_global_distribution_lstm
from forecasting.universe.models import GlobalLSTM
from forecasting.universe.panel import Panel

TAIL_SAMPLES = 16384  # residuals a fold's tails are fitted on at most (drawn at random, seeded)
ONE_SESSION = ("mean_h1", "scale_h1", "df_h1")  # the columns the `lstm` risk method reads


class GlobalDistributionLSTM(GlobalLSTM):
    """The global LSTM forecasting each ticker's next-day return as a Student-t (target `raw`)."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        if self.target != "raw":
            raise ValueError(f"the global distribution model forecasts raw returns, not {self.target!r}")
        self._view: Any = None
        self.shrink, self.df, self.spread = 1.0, np.inf, 1.0

    def _build(self, n_features: int) -> Any:
        network, self._view = build_global_distribution_lstm(
            self.window, n_features, self.n_tickers, self.embedding, self.units, self.layers,
            self.dropout, self.learning_rate, self.cell)
        return network

    def _fitted(self, y: np.ndarray) -> np.ndarray:
        return y.reshape(-1, 1)  # one horizon: the loss reads (samples, horizons)

    def _point_view(self) -> Any:
        return self._view

    def criterion(self, predicted: np.ndarray, target: np.ndarray) -> float:
        """mean_variance_loss([1.0]) in numpy: squared error plus the variance's quasi-likelihood."""
        output = predicted.reshape(len(target), 2)
        mean, log_var = output[:, 0], np.clip(output[:, 1], -12.0, 12.0)
        y = target.reshape(-1)
        known = np.isfinite(y)
        residual = np.where(known, y, 0.0) - mean
        count = max(int(known.sum()), 1)
        return float(np.sum(known * (residual ** 2 + 0.5 * (log_var + residual ** 2 * np.exp(-log_var))))
                     / count)

    def fit(self, panel: Panel, idx: np.ndarray, seed: int, warm_start: bool = False,
            validation: np.ndarray | None = None) -> GlobalDistributionLSTM:
        """The global fit, then the pooled shrink and tails on the held-out dates (in-sample when
        fewer than MIN_HELD_OUT were held out, as DistributionLSTM)."""
        super().fit(panel, idx, seed, warm_start, validation)
        held_out = validation is not None and len(validation) >= MIN_HELD_OUT
        sample = validation if held_out and validation is not None else idx
        if len(sample) > TAIL_SAMPLES:
            rng = np.random.default_rng(seed + 7919)  # its own stream: the fit's draws are unchanged
            sample = np.sort(rng.choice(sample, TAIL_SAMPLES, replace=False))
        self._fit_tails(panel, sample, held_out)
        return self

    def _moments(self, panel: Panel, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, sigma, the ticker's training mean) per sample, in log-return units."""
        assert self.scaler is not None and self.network is not None
        out = np.asarray(self.network.predict_on_batch(self._inputs(panel, idx)), dtype=np.float64)
        t = panel.ticker[idx]
        mean = out[:, 0] * self.scaler.y_std[t] + self.scaler.y_mean[t]
        sigma = np.exp(np.clip(out[:, 1], -12.0, 12.0) / 2) * self.scaler.y_std[t]
        return mean, sigma, self.scaler.y_mean[t]

    def _fit_tails(self, panel: Panel, idx: np.ndarray, held_out: bool) -> None:
        mean, sigma, centre = self._moments(panel, idx)
        y = panel.y[idx]
        self.shrink = held_up(mean - centre, y - centre) if held_out else 1.0
        z = (y - (centre + self.shrink * (mean - centre))) / sigma
        self.df, self.spread = t_tails(z[np.isfinite(z)])

    def predict(self, panel: Panel, idx: np.ndarray) -> pd.DataFrame:
        """forecast (the unshrunk 1-day mean, the point forecast) and the 1-session Student-t:
        mean_h1 (shrunk toward the ticker's training mean), scale_h1, df_h1."""
        if self.network is None or self.scaler is None:
            raise NotFittedError("GlobalDistributionLSTM.predict called before fit")
        if len(idx) == 0:
            return pd.DataFrame({c: np.empty(0) for c in ("forecast", *ONE_SESSION)})
        mean, sigma, centre = self._moments(panel, idx)
        return pd.DataFrame({"forecast": mean, "mean_h1": centre + self.shrink * (mean - centre),
                             "scale_h1": sigma * self.spread,
                             "df_h1": np.full(len(idx), self.df, dtype=np.float64)})
