"""The Keras LSTM network, kept apart from the wrapper that trains it (one can change alone)."""
from __future__ import annotations

from typing import Any

from forecasting.tf_import import import_keras


def build_lstm(window: int, n_features: int, units: int = 32, layers: int = 1, dropout: float = 0.0,
               learning_rate: float = 1e-3, loss: str = "mse") -> Any:
    """Return a compiled LSTM regressor: (window, features) -> one number.

    With the default `loss="mse"` the number is the scaled next-day return; with
    `loss="gaussian_nll"` it is the log-variance of the scaled next-day return (the risk LSTM).
    """
    keras = import_keras()

    inputs = keras.Input(shape=(window, n_features))
    x = inputs
    for layer in range(layers):
        x = keras.layers.LSTM(units, return_sequences=layer < layers - 1)(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs, name="lstm_forecaster")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=gaussian_nll if loss == "gaussian_nll" else loss,
                  jit_compile=False)  # XLA recompiles as the training set grows: slower walk-forward
    return model


def gaussian_nll(y_true: Any, log_variance: Any) -> Any:
    """Gaussian negative log-likelihood of a zero-mean target given its predicted log-variance.

    Minimising it estimates the conditional variance consistently even when returns are not
    normal (quasi-maximum likelihood, as for GARCH); the clip keeps exp() finite early in training.
    """
    ops = import_keras().ops
    s = ops.clip(ops.reshape(log_variance, (-1,)), -12.0, 12.0)
    y = ops.reshape(ops.cast(y_true, s.dtype), (-1,))
    return 0.5 * ops.mean(s + ops.square(y) * ops.exp(-s))
