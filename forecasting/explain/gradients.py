"""Integrated gradients (Sundararajan et al., 2017) per window, feature and lag, in log-return units.

The baseline is the fold's training-mean window. Forecasters standardise inputs with a scaler fit on
the fold's training windows, so in scaled space that baseline is the zero window: the attribution
says how far each input moved the forecast away from the forecast for an average day of the
training past (and it uses nothing from the test period but the window it explains). Attributions
add up to forecast(x) - forecast(baseline) (completeness), which the tests check.

Dispatch is on what a forecaster offers, so a new forecaster plugs in without changes here:
- first, a forecaster's own `integrated_gradients(windows, steps)` (the global model's view, with
  per-ticker scalers and a ticker input: forecasting/universe/explain.py);
- `coef` and `scaler` (a linear model on the flattened scaled window, e.g. ridge): integrated
  gradients are exact and closed-form, coef x (scaled input - 0);
- `model` (a Keras model on scaled windows) and `scaler`: gradients along the straight path from
  the baseline, one batched tf.function per network architecture, traced once and reused by every
  fold (and every later walk-forward in the process). The path integral uses
  Gauss-Legendre nodes: on the test LSTM 8 of them add up (completeness) to float32 precision
  (relative error 2e-7), where evenly spaced points need dozens;
- anything else: None (permutation importance still applies).
"""
from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from forecasting.windows import Windows

_keys: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # model -> architecture
_architectures: dict[str, tuple[Any, Callable]] = {}  # architecture -> (private copy, traced fn)


def linear_attributions(coef: np.ndarray, scaled: np.ndarray) -> np.ndarray:
    """coef (window*features,) times scaled inputs (n, window, features): exact integrated gradients."""
    return scaled * np.asarray(coef, dtype=np.float64).reshape(scaled.shape[1:])


def integrated_gradients(forecaster: Any, windows: Windows, steps: int = 8) -> np.ndarray | None:
    """Return (n, window, features) attributions in log-return units, or None if not differentiable."""
    own = getattr(forecaster, "integrated_gradients", None)
    if own is not None:
        return own(windows, steps) if len(windows) else None
    scaler = getattr(forecaster, "scaler", None)
    if scaler is None or len(windows) == 0:
        return None
    X = windows.X
    if getattr(forecaster, "coef", None) is not None:
        width = int(getattr(forecaster, "window", None) or X.shape[1])
        scaled = scaler.transform_x(X[:, -width:, :]).astype(np.float64)
        out = np.zeros(X.shape, dtype=np.float64)
        out[:, -width:, :] = linear_attributions(forecaster.coef, scaled)
        return out * scaler.y_std
    model = getattr(forecaster, "model", None)
    if model is None:
        return None
    scaled = scaler.transform_x(X)
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]; mapped to [0, 1]
    attributions = np.asarray(_keras_ig(model, scaled.shape[1:])(
        scaled, ((nodes + 1) / 2).astype(np.float32), (weights / 2).astype(np.float32)),
        dtype=np.float64)
    return attributions * scaler.y_std


def _keras_ig(model: Any, shape: tuple[int, int]) -> Callable:
    """A tf.function computing integrated gradients from the zero window for `model`'s weights.

    Tracing costs ~0.5 s, so it happens once per architecture, not per model: the function runs on
    a private copy of the first model of that architecture, which gets each new model's weights
    (~1 ms). Walk-forwards that rebuild the network every fold (warm_start=false) then trace once
    too, as the test of that checks.
    """
    key = _keys.get(model)
    if key is None:
        key = _keys[model] = _architecture(model)
    entry = _architectures.get(key)
    if entry is None:
        import tensorflow as tf

        from forecasting.tf_import import import_keras

        copy = import_keras().models.clone_model(model)
        window, features = shape

        @tf.function(input_signature=[tf.TensorSpec([None, window, features], tf.float32),
                                      tf.TensorSpec([None], tf.float32),
                                      tf.TensorSpec([None], tf.float32)], reduce_retracing=True)
        def attribute(x: Any, alphas: Any, weights: Any) -> Any:
            # Every point of every path in one batch: (steps * n, window, features).
            path = tf.reshape(alphas[:, None, None, None] * x[None], [-1, window, features])
            with tf.GradientTape() as tape:
                tape.watch(path)
                total = tf.reduce_sum(copy(path, training=False))
            grads = tf.reshape(tape.gradient(total, path),
                               [tf.shape(alphas)[0], -1, window, features])
            return x * tf.tensordot(weights, grads, axes=1)

        entry = _architectures[key] = (copy, attribute)
    copy, attribute = entry
    copy.set_weights(model.get_weights())
    return attribute


def _architecture(model: Any) -> str:
    """The model's layers and settings without their auto-generated names (lstm, lstm_1, ...)."""
    layers = [{k: v for k, v in layer.get_config().items() if k != "name"} | {
        "class": type(layer).__name__} for layer in model.layers]
    return json.dumps(layers, sort_keys=True, default=str)
