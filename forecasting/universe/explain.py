"""Attributions for the global model: its fold seen as a single-ticker forecaster on panel samples.

`FoldExplainer` needs a forecaster with `predict(windows)` (permutation importance) and a way to
integrate gradients from the training-mean window. The global model predicts panel samples with
their ticker ids and scales each ticker with its own scalers, so `PanelView` stands in for it: its
windows are the samples' inputs already *scaled* by their own ticker's scaler (fit on the fold's
training samples), and it predicts any such windows with the samples' ticker ids held fixed.

Why the scaled space: the pooled group shuffles an input across every ticker's test samples of the
fold, and a raw value moved from a volatile ticker into a quiet one's window would be an outlier the
model never sees, inflating the importance; shuffled after scaling it stays on the scale the network
was trained on. Within one ticker the two are the same (its scaler is affine). The gradient baseline
is then the zero window: each ticker's training-mean window, as `gradients.py` does for one ticker.

Targets are in the model's own units: the next-day log return (`raw`), its excess over the fold's
test-day mean (`excess`), or the cross-sectional rank score (`csrank`: attributions in score units).
Integrated gradients of a sample do not depend on the group it is explained in, so they are computed
once for the pooled group and sliced for each ticker.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from forecasting.explain import FoldExplainer
from forecasting.explain.gradients import _architecture, linear_attributions
from forecasting.splits import Fold
from forecasting.universe.panel import Panel, cross_sectional_target
from forecasting.windows import Windows

MIN_TICKER_SAMPLES = 10  # labelled test samples a ticker needs in a fold to be explained on its own
TICKER_REPEATS = 1       # shuffles per input group for one ticker (its standard error stays valid)

_functions: dict[str, tuple[Any, Callable]] = {}  # architecture -> (private copy, traced function)


class PanelView:
    """One fold's global model on a set of its labelled test samples, shaped like a forecaster."""

    def __init__(self, forecaster: Any, panel: Panel, idx: np.ndarray, y: np.ndarray,
                 parent: PanelView | None = None, rows: np.ndarray | None = None) -> None:
        assert forecaster.scaler is not None
        self.forecaster, self.scaler = forecaster, forecaster.scaler
        self._panel, self._idx, self.ids = panel, idx, panel.ticker[idx]
        self.windows = Windows(forecaster.scaler.transform_x(panel, idx), y,
                               pd.DatetimeIndex(panel.calendar[panel.pos[idx]]))
        self.coef = getattr(forecaster, "coef", None)  # a linear model's standardised coefficients
        self._parent, self._rows = parent, rows
        self._gradients: np.ndarray | None = None

    @classmethod
    def of_fold(cls, forecaster: Any, panel: Panel, test: np.ndarray) -> PanelView:
        """Every ticker's labelled test samples of a fold, by date then ticker."""
        test = test[np.isfinite(panel.y[test])]
        test = test[np.lexsort((panel.ticker[test], panel.pos[test]))]
        y = cross_sectional_target(panel.y[test], panel.pos[test], forecaster.target)
        return cls(forecaster, panel, test, y)

    def ticker(self, number: int) -> PanelView:
        """The samples of one ticker (ticker number `number` in the panel), sharing the gradients."""
        rows = np.flatnonzero(self.ids == number)
        return PanelView(self.forecaster, self._panel, self._idx[rows], self.windows.y[rows],
                         parent=self, rows=rows)

    def predict(self, windows: Windows) -> np.ndarray:
        """Forecasts of scaled windows: copies of this view's samples stacked one after another."""
        copies, left = divmod(len(windows), len(self.ids))
        if left:
            raise ValueError(f"{len(windows)} windows are not copies of the view's {len(self.ids)}")
        ids = np.tile(self.ids, copies)
        if self.coef is not None:
            width = self.forecaster.window
            design = windows.X[:, -width:, :].reshape(len(windows), -1).astype(np.float64)
            scaled = design @ self.coef
        else:
            model = self.forecaster.model
            inputs = [windows.X, ids.astype(np.int32)] if len(model.inputs) > 1 else windows.X
            scaled = np.asarray(model.predict_on_batch(inputs), dtype=np.float64).reshape(-1)
        return scaled * self.scaler.y_std[ids] + self.scaler.y_mean[ids]

    def integrated_gradients(self, windows: Windows, steps: int) -> np.ndarray:
        """(n, window, features) attributions from each ticker's training-mean window, in the
        target's units (each sample's own y_std); computed once per fold and sliced per ticker."""
        if self._parent is not None:
            assert self._rows is not None
            return self._parent.integrated_gradients(self._parent.windows, steps)[self._rows]
        if self._gradients is None:
            X = windows.X
            if self.coef is not None:
                width = self.forecaster.window
                scaled = np.zeros(X.shape, dtype=np.float64)
                scaled[:, -width:, :] = linear_attributions(self.coef, X[:, -width:, :].astype(np.float64))
            else:
                scaled = _keras_ig(self.forecaster.model, X, self.ids, steps)
            self._gradients = scaled * self.scaler.y_std[self.ids][:, None, None]
        return self._gradients


def explain_fold(explain: Callable[..., None], forecaster: Any, panel: Panel, test: np.ndarray,
                 fold: Fold) -> None:
    """Call `explain(view, None, windows, fold, group)` pooled ("all"), then for each ticker with
    at least MIN_TICKER_SAMPLES labelled test samples in the fold (group = its name)."""
    view = PanelView.of_fold(forecaster, panel, test)
    if len(view.ids) < 2:
        return
    explain(view, None, view.windows, fold, "all")
    numbers, counts = np.unique(view.ids, return_counts=True)
    for number in numbers[counts >= MIN_TICKER_SAMPLES]:
        one = view.ticker(int(number))
        explain(one, None, one.windows, fold, panel.tickers[number])


class PanelExplainer:
    """The `explain` callback of `run_panel`: the configured explainer for the pooled group, the
    same with TICKER_REPEATS shuffles for each ticker, all in one Explanation.

    Each ticker's shuffles are seeded by (seed, fold, ticker) (FoldExplainer), so tickers do not
    share one permutation pattern and reruns give the same tables.
    """

    def __init__(self, pooled: FoldExplainer, ticker_repeats: int = TICKER_REPEATS) -> None:
        self.pooled = pooled
        self.per_ticker = FoldExplainer(pooled.feature_names,
                                        repeats=min(ticker_repeats, pooled.repeats),
                                        lag_blocks=pooled.upper_ends,
                                        gradient_steps=pooled.gradient_steps, seed=pooled.seed)

    @property
    def explanation(self) -> Any:
        return self.pooled.explanation

    @property
    def seconds(self) -> float:
        return self.pooled.seconds + self.per_ticker.seconds

    def __call__(self, view: PanelView, train: None, test: Windows, fold: Fold,
                 group: str = "all") -> None:
        if group == "all":
            self.pooled(view, train, test, fold)
            return
        self.per_ticker.explanation = self.pooled.explanation  # one record for every group
        self.per_ticker(view, train, test, fold, group)


def _keras_ig(model: Any, scaled: np.ndarray, ids: np.ndarray, steps: int) -> np.ndarray:
    """Integrated gradients w.r.t. the windows from the zero window, the ticker input held fixed
    at each sample's own ticker; one traced function per architecture (as gradients.py)."""
    key = _architecture(model)
    entry = _functions.get(key)
    with_ids = len(model.inputs) > 1
    if entry is None:
        import tensorflow as tf

        from forecasting.tf_import import import_keras

        copy = import_keras().models.clone_model(model)
        window, features = scaled.shape[1:]

        @tf.function(input_signature=[tf.TensorSpec([None, window, features], tf.float32),
                                      tf.TensorSpec([None], tf.int32),
                                      tf.TensorSpec([None], tf.float32),
                                      tf.TensorSpec([None], tf.float32)], reduce_retracing=True)
        def attribute(x: Any, tickers: Any, alphas: Any, weights: Any) -> Any:
            n = tf.shape(alphas)[0]
            path = tf.reshape(alphas[:, None, None, None] * x[None], [-1, window, features])
            with tf.GradientTape() as tape:
                tape.watch(path)
                inputs = [path, tf.tile(tickers, [n])] if with_ids else path
                total = tf.reduce_sum(copy(inputs, training=False))
            grads = tf.reshape(tape.gradient(total, path), [n, -1, window, features])
            return x * tf.tensordot(weights, grads, axes=1)

        entry = _functions[key] = (copy, attribute)
    copy, attribute = entry
    copy.set_weights(model.get_weights())
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]; mapped to [0, 1]
    return np.asarray(attribute(scaled.astype(np.float32), ids.astype(np.int32),
                                ((nodes + 1) / 2).astype(np.float32),
                                (weights / 2).astype(np.float32)), dtype=np.float64)
