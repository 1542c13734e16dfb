"""Forecasters over the panel: the global LSTM (or GRU, ALSTM), pooled LightGBM and ridge.

Both fit per-ticker scalers on the fold's training samples only and learn one target for all
tickers: the next-day return (`raw`), its excess over that day's universe mean (`excess`), or its
cross-sectional rank (`csrank`, qlib's CSRankNorm). Forecasts of `raw` and `excess` are returns;
`csrank` forecasts are scores, good for ranking, not for an error in return units.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from forecasting.base import NotFittedError
from forecasting.boosting import Booster
from forecasting.network import build_global_lstm
from forecasting.training import Schedule, fit_network, mse, newest_then_random
from forecasting.universe.panel import TARGETS, Panel, PanelScaler, cross_sectional_target


class PanelForecaster:
    """What both panel models share: the target and the per-ticker scaling of inputs and targets."""

    uses_validation = False

    def __init__(self, window: int, target: str = "raw") -> None:
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        self.window, self.target = window, target
        self.scaler: PanelScaler | None = None

    @property
    def forecasts_returns(self) -> bool:
        """False for `csrank`: its forecasts are rank scores, not returns."""
        return self.target != "csrank"

    def _targets(self, panel: Panel, idx: np.ndarray) -> np.ndarray:
        """Scaled targets of samples `idx`, a cross-section formed among those samples only."""
        assert self.scaler is not None
        y = cross_sectional_target(panel.y[idx], panel.pos[idx], self.target)
        return self.scaler.transform_y(panel, idx, y)

    def _fit_scaler(self, panel: Panel, idx: np.ndarray) -> None:
        y = cross_sectional_target(panel.y[idx], panel.pos[idx], self.target)
        scaler = PanelScaler.fit(panel, idx, y)
        if self.target == "csrank":  # already unit scale and comparable across tickers
            scaler = replace(scaler, y_mean=np.zeros_like(scaler.y_mean),
                             y_std=np.ones_like(scaler.y_std))
        self.scaler = scaler


class PanelRidge(PanelForecaster):
    """Closed-form ridge pooled over every ticker's standardised windows: the linear baseline."""

    def __init__(self, *, window: int, alpha: float, target: str) -> None:
        super().__init__(window, target)
        self.alpha = alpha
        self.coef: np.ndarray | None = None

    def _design(self, panel: Panel, idx: np.ndarray) -> np.ndarray:
        assert self.scaler is not None
        return self.scaler.transform_x(panel, idx, self.window).reshape(len(idx), -1).astype(np.float64)

    def fit(self, panel: Panel, idx: np.ndarray, seed: int = 0, warm_start: bool = False,
            validation: np.ndarray | None = None) -> PanelRidge:
        self._fit_scaler(panel, idx)
        A, b = self._design(panel, idx), self._targets(panel, idx).astype(np.float64)
        self.coef = np.linalg.solve(A.T @ A + self.alpha * np.eye(A.shape[1]), A.T @ b)
        return self

    def predict(self, panel: Panel, idx: np.ndarray) -> np.ndarray:
        if self.coef is None or self.scaler is None:
            raise NotFittedError("PanelRidge.predict called before fit")
        return self.scaler.inverse_y(panel, idx, self._design(panel, idx) @ self.coef)


class GlobalLSTM(PanelForecaster):
    """One LSTM trained on every ticker's windows, with an optional ticker embedding.

    Warm folds continue from the previous fold's weights for `warm_epochs` and keep the update only
    if it lowers the loss on the fold's chronological validation tail, as the single-ticker LSTM.
    `warm_samples` > 0 caps a warm fold's epoch at that many training samples: every sample new
    since the previous fit, then older ones drawn at random; `val_samples` > 0 caps the validation
    tail a warm fold's guard reads the same way (at random). Thirty tickers then cost a warm fold
    about what a few cost, instead of thirty times one ticker's; the first fit still trains full
    epochs on everything and early-stops on the whole tail.
    """

    bounds = {"window": "int >= 1", "units": "int >= 1", "layers": "int >= 1",
              "dropout": "0 <= number < 1", "epochs": "int >= 1", "warm_epochs": "int >= 0",
              "batch_size": "int >= 1", "learning_rate": "number > 0", "patience": "int >= 0",
              "warm_samples": "int >= 0", "val_samples": "int >= 0"}

    def __init__(self, *, window: int, units: int, layers: int, dropout: float, epochs: int,
                 warm_epochs: int, batch_size: int, learning_rate: float, patience: int,
                 target: str, embedding: int, n_tickers: int, warm_samples: int,
                 val_samples: int, cell: str = "lstm") -> None:
        # No defaults: conf/forecaster/ and conf/universe/ hold them (backtests/pipeline/universe.py).
        super().__init__(window, target)
        self.units, self.layers, self.dropout, self.epochs = units, layers, dropout, epochs
        self.warm_epochs, self.batch_size, self.learning_rate = warm_epochs, batch_size, learning_rate
        self.patience, self.embedding, self.n_tickers = patience, embedding, n_tickers
        self.warm_samples, self.val_samples = warm_samples, val_samples
        self.cell = cell  # the recurrent layer: the single-ticker forecaster class's `cell`
        self.network: Any = None  # what trains
        self.model: Any = None    # what gives the point forecast (here the network itself)
        self._seen = -1  # the last calendar position a previous fit trained on
        self.trained_samples = 0  # sample passes so far (throughput figures)

    @property
    def uses_validation(self) -> bool:  # type: ignore[override]
        return self.patience > 0

    def _inputs(self, panel: Panel, idx: np.ndarray) -> Any:
        assert self.scaler is not None
        X = self.scaler.transform_x(panel, idx)
        return [X, panel.ticker[idx].astype(np.int32)] if self.embedding > 0 else X

    def fit(self, panel: Panel, idx: np.ndarray, seed: int, warm_start: bool = False,
            validation: np.ndarray | None = None) -> GlobalLSTM:
        """Fit on samples `idx` (scalers from them alone); `validation` drives early stopping."""
        self._fit_scaler(panel, idx)
        resume = warm_start and self.network is not None
        rng = np.random.default_rng(seed)
        val = None
        if validation is not None and len(validation) and self.patience > 0:
            y_val = self._targets(panel, validation)  # the cross-section of whole dates
            if resume and 0 < self.val_samples < len(validation):
                keep = np.sort(rng.choice(len(validation), self.val_samples, replace=False))
                validation, y_val = validation[keep], y_val[keep]
            val = (self._inputs(panel, validation), self._fitted(y_val))
        y = self._targets(panel, idx)
        if resume and 0 < self.warm_samples < len(idx):
            keep = newest_then_random(panel.pos[idx] > self._seen, self.warm_samples, rng)
            idx, y = idx[keep], y[keep]
        self._seen = max(self._seen, int(panel.pos[idx].max()))
        schedule = Schedule(self.epochs, self.warm_epochs, self.batch_size, self.patience)
        self.network = fit_network(self.network, lambda: self._build(panel.X.shape[-1]),
                                   self._inputs(panel, idx), self._fitted(y), val, seed, resume,
                                   schedule, rng, self.criterion)
        self.model = self._point_view()
        epochs = self.warm_epochs if resume else self.epochs
        self.trained_samples += epochs * len(idx)  # an upper bound when early stopping cuts in
        return self

    def criterion(self, predicted: np.ndarray, target: np.ndarray) -> float:
        """The network's loss in numpy (early stopping, the warm guard)."""
        return mse(predicted, target)

    def _build(self, n_features: int) -> Any:
        """A fresh network (seeded by fit_network)."""
        return build_global_lstm(self.window, n_features, self.n_tickers, self.embedding,
                                 self.units, self.layers, self.dropout, self.learning_rate, self.cell)

    def _fitted(self, y: np.ndarray) -> np.ndarray:
        """The targets as the network's loss takes them."""
        return y

    def _point_view(self) -> Any:
        return self.network

    def predict(self, panel: Panel, idx: np.ndarray) -> np.ndarray:
        if self.model is None or self.scaler is None:
            raise NotFittedError("GlobalLSTM.predict called before fit")
        if len(idx) == 0:
            return np.empty(0)
        scaled = np.asarray(self.model.predict_on_batch(self._inputs(panel, idx)))
        return self.scaler.inverse_y(panel, idx, scaled)


class PanelLightGBM(PanelForecaster):
    """LightGBM pooled over every ticker's standardised windows (qlib's LightGBM on a universe).

    Boosting early-stops on the fold's validation dates (all tickers on them); each fold fits afresh.
    """

    def __init__(self, *, target: str, **settings: Any) -> None:
        # settings: the forecaster group's (conf/forecaster/lightgbm.yaml), checked by its bounds.
        super().__init__(int(settings["window"]), target)
        self.trees = Booster(**settings)

    @property
    def uses_validation(self) -> bool:  # type: ignore[override]
        return self.trees.uses_validation

    def _design(self, panel: Panel, idx: np.ndarray) -> np.ndarray:
        assert self.scaler is not None
        return self.scaler.transform_x(panel, idx, self.window).reshape(len(idx), -1)

    def fit(self, panel: Panel, idx: np.ndarray, seed: int = 0, warm_start: bool = False,
            validation: np.ndarray | None = None) -> PanelLightGBM:
        """Fit afresh on samples `idx` (scalers from them alone); `validation` stops boosting."""
        self._fit_scaler(panel, idx)
        val = None
        if validation is not None and len(validation):
            val = (self._design(panel, validation), self._targets(panel, validation))
        self.trees.train(self._design(panel, idx), self._targets(panel, idx), val, seed)
        return self

    def predict(self, panel: Panel, idx: np.ndarray) -> np.ndarray:
        if self.trees.booster is None or self.scaler is None:
            raise NotFittedError("PanelLightGBM.predict called before fit")
        if len(idx) == 0:
            return np.empty(0)
        return self.scaler.inverse_y(panel, idx, self.trees.raw_predict(self._design(panel, idx)))
