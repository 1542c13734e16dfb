"""The LSTM forecaster: scales each fold on its own training windows, trains, predicts fast."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.base import NotFittedError, as_series
from forecasting.network import build_lstm
from forecasting.scaling import WindowScaler
from forecasting.training import Schedule, fit_network, mse
from forecasting.windows import Windows


class LSTMForecaster:
    """Keras LSTM on windows of features; the target is the next day's log return.

    Warm start continues from the previous fold's weights for `warm_epochs` instead of training
    `epochs` from scratch: the walk-forward speed-up that keeps monthly refits affordable.
    """

    loss = "mse"  # the network's training loss (build_lstm); the risk LSTM trains another one
    cell = "lstm"  # the recurrent layer: lstm, gru or alstm (forecasting/network.py, recurrent.py)

    # Each setting's bound (checked before any data is read: backtests/settings/bounds.py).
    bounds = {"window": "int >= 1", "units": "int >= 1", "layers": "int >= 1",
              "dropout": "0 <= number < 1", "epochs": "int >= 1", "warm_epochs": "int >= 0",
              "batch_size": "int >= 1", "learning_rate": "number > 0", "patience": "int >= 0"}

    def __init__(self, *, window: int, units: int, layers: int, dropout: float, epochs: int,
                 warm_epochs: int, batch_size: int, learning_rate: float, patience: int) -> None:
        # No defaults here: conf/forecaster/lstm.yaml holds them (backtests/settings/defaults.py).
        self.window, self.units, self.layers, self.dropout = window, units, layers, dropout
        self.epochs, self.warm_epochs, self.batch_size = epochs, warm_epochs, batch_size
        self.learning_rate, self.patience = learning_rate, patience
        self.model: Any = None
        self.scaler: WindowScaler | None = None

    @property
    def uses_validation(self) -> bool:
        """Early stopping (patience > 0) needs the walk-forward's held-out tail."""
        return self.patience > 0

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> LSTMForecaster:
        """Fit on labelled windows; the scaler sees these windows and nothing else.

        `validation` (a chronological tail held out by the walk-forward) drives early stopping with
        the best weights restored. A warm fit keeps its update only if it lowers that tail's loss:
        repeated small updates otherwise drift into fitting noise and forecast worse than a fresh,
        early-stopped fit.
        """
        train = train.labelled
        self.scaler = WindowScaler.fit(train.X, train.y)
        X, y = self.scaler.transform_x(train.X), self.scaler.transform_y(train.y)
        val = None
        if validation is not None and len(validation.labelled) and self.patience > 0:
            held = validation.labelled
            val = (self.scaler.transform_x(held.X), self.scaler.transform_y(held.y))
        self.model = fit_network(
            self.model, lambda: build_lstm(self.window, X.shape[-1], self.units, self.layers,
                                           self.dropout, self.learning_rate, self.loss, self.cell),
            X, y, val, seed, warm_start and self.model is not None, self.schedule,
            criterion=self.validation_loss)
        return self

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.epochs, self.warm_epochs, self.batch_size, self.patience)

    # The early-stopping criterion on the held-out tail: the training loss (MSE), in numpy.
    validation_loss = staticmethod(mse)

    def predict(self, windows: Windows) -> pd.Series:
        """Forecast log returns; predict_on_batch costs ~2 ms where model.predict costs ~40 ms."""
        if self.model is None or self.scaler is None:
            raise NotFittedError("LSTMForecaster.predict called before fit")
        if len(windows) == 0:
            return as_series(np.empty(0), windows)
        scaled = np.asarray(self.model.predict_on_batch(self.scaler.transform_x(windows.X)))
        return as_series(self.scaler.inverse_y(scaled), windows)
