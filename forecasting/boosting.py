"""LightGBM, the field's strong non-neural baseline (qlib's LightGBM on Alpha158), on the same windows.

A gradient-boosted tree ensemble on the flattened, standardised window (with features=alpha158 and
forecaster.window=1: one day's factors, as qlib feeds it). Boosting stops once `patience` rounds
have not lowered the squared error on the walk-forward's validation tail, and the best round is
kept. Trees do not continue from a previous fold: each fold fits afresh (seconds), so `warm_start`
changes nothing here. lightgbm is an optional extra (`pip install -c constraints.txt -e
".[lightgbm]"`), imported only when a booster trains; the settings check names the install first.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.base import NotFittedError, as_series
from forecasting.scaling import WindowScaler
from forecasting.windows import Windows

# (the package, the pyproject extra that installs it): backtests/settings/validate.py checks it.
REQUIRES = ("lightgbm", "lightgbm")


class Booster:
    """The LightGBM settings both the single-ticker and the panel forecaster share, and the fit."""

    requires = REQUIRES
    bounds = {"window": "int >= 1", "rounds": "int >= 1", "learning_rate": "number > 0",
              "num_leaves": "int >= 2", "min_child_samples": "int >= 1",
              "subsample": "0 < number <= 1", "colsample": "0 < number <= 1", "l2": "number >= 0",
              "patience": "int >= 0", "threads": "int >= 1"}

    def __init__(self, *, window: int, rounds: int, learning_rate: float, num_leaves: int,
                 min_child_samples: int, subsample: float, colsample: float, l2: float,
                 patience: int, threads: int) -> None:  # defaults: conf/forecaster/lightgbm.yaml
        self.window, self.rounds, self.learning_rate = window, rounds, learning_rate
        self.num_leaves, self.min_child_samples = num_leaves, min_child_samples
        self.subsample, self.colsample, self.l2 = subsample, colsample, l2
        self.patience, self.threads = patience, threads
        self.booster: Any = None  # not `model`: the attributions' gradients are for networks
        self.best_rounds = 0
        self.scaler: Any = None   # the fold's standardisation (a WindowScaler, or per ticker)

    @property
    def uses_validation(self) -> bool:
        """Early stopping (patience > 0) needs the walk-forward's held-out tail."""
        return self.patience > 0

    def params(self, seed: int) -> dict[str, Any]:
        """LightGBM's parameters: seeded and deterministic (same trees on every run and machine
        thread count alike, `force_row_wise` keeps the histogram layout fixed)."""
        return {"objective": "regression", "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
                "feature_fraction": self.colsample, "lambda_l2": self.l2, "seed": seed,
                "deterministic": True, "force_row_wise": True, "num_threads": self.threads,
                "verbosity": -1}

    def train(self, X: np.ndarray, y: np.ndarray, val: tuple[np.ndarray, np.ndarray] | None,
              seed: int) -> None:
        """Boost up to `rounds` trees; with `val`, stop after `patience` rounds without a lower
        validation error and keep the best round."""
        import lightgbm

        data = lightgbm.Dataset(X, y, free_raw_data=True)
        callbacks: list[Any] = []
        valid: list[Any] = []
        if val is not None and self.patience > 0:
            valid = [lightgbm.Dataset(val[0], val[1], reference=data)]
            callbacks = [lightgbm.early_stopping(self.patience, verbose=False)]
        self.booster = lightgbm.train(self.params(seed), data, num_boost_round=self.rounds,
                                      valid_sets=valid, callbacks=callbacks)
        self.best_rounds = int(self.booster.best_iteration or self.booster.current_iteration())

    def raw_predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, num_iteration=self.best_rounds), dtype=np.float64)


class LightGBMForecaster(Booster):
    """LightGBM on one ticker's windows: the next day's log return from the last `window` bars."""

    def _design(self, windows: Windows) -> np.ndarray:
        assert self.scaler is not None
        X = self.scaler.transform_x(windows.X[:, -self.window:, :])
        return X.reshape(len(X), -1)

    def fit(self, train: Windows, seed: int = 0, warm_start: bool = False,
            validation: Windows | None = None) -> LightGBMForecaster:
        """Fit afresh on labelled windows (scaler from them alone); `validation` stops boosting."""
        train = train.labelled
        self.scaler = WindowScaler.fit(train.X[:, -self.window:, :], train.y)
        val = None
        if validation is not None and len(validation.labelled):
            held = validation.labelled
            val = (self._design(held), self.scaler.transform_y(held.y))
        self.train(self._design(train), self.scaler.transform_y(train.y), val, seed)
        return self

    def predict(self, windows: Windows) -> pd.Series:
        if self.booster is None or self.scaler is None:
            raise NotFittedError("LightGBMForecaster.predict called before fit")
        if len(windows) == 0:
            return as_series(np.empty(0), windows)
        return as_series(self.scaler.inverse_y(self.raw_predict(self._design(windows))), windows)
