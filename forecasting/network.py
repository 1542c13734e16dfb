"""The Keras LSTM networks, kept apart from the wrappers that train them (one can change alone)."""
from __future__ import annotations

from typing import Any

from forecasting.tf_import import import_keras


def _lstm_stack(keras: Any, x: Any, units: int, layers: int) -> Any:
    for layer in range(layers):
        x = keras.layers.LSTM(units, return_sequences=layer < layers - 1)(x)
    return x


def _compiled(keras: Any, inputs: Any, x: Any, dropout: float, learning_rate: float, name: str,
              loss: Any = "mse") -> Any:
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x), name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                  jit_compile=False)  # XLA recompiles as the training set grows: slower walk-forward
    return model


def build_lstm(window: int, n_features: int, units: int = 32, layers: int = 1, dropout: float = 0.0,
               learning_rate: float = 1e-3, loss: str = "mse") -> Any:
    """Return a compiled LSTM regressor: (window, features) -> one number.

    With the default `loss="mse"` the number is the scaled next-day return; with
    `loss="gaussian_nll"` it is the log-variance of the scaled next-day return (the risk LSTM).
    """
    keras = import_keras()
    inputs = keras.Input(shape=(window, n_features))
    return _compiled(keras, inputs, _lstm_stack(keras, inputs, units, layers), dropout,
                     learning_rate, "lstm_forecaster", gaussian_nll if loss == "gaussian_nll" else loss)


def build_global_lstm(window: int, n_features: int, n_tickers: int, embedding: int = 0,
                      units: int = 32, layers: int = 1, dropout: float = 0.0,
                      learning_rate: float = 1e-3) -> Any:
    """One LSTM for every ticker: (window, features) and a ticker id -> one scaled target.

    With `embedding` > 0 a learned vector per ticker joins the LSTM's summary before the output, so
    the shared network can still treat tickers differently; with 0 the network has the windows as
    its only input.
    """
    keras = import_keras()
    windows = keras.Input(shape=(window, n_features), name="windows")
    x = _lstm_stack(keras, windows, units, layers)
    if embedding <= 0:
        return _compiled(keras, windows, x, dropout, learning_rate, "global_lstm")
    ticker = keras.Input(shape=(1,), dtype="int32", name="ticker")
    vector = keras.layers.Flatten()(keras.layers.Embedding(n_tickers, embedding)(ticker))
    x = keras.layers.Concatenate()([x, vector])
    return _compiled(keras, [windows, ticker], x, dropout, learning_rate, "global_lstm")


def gaussian_nll(y_true: Any, log_variance: Any) -> Any:
    """Gaussian negative log-likelihood of a zero-mean target given its predicted log-variance.

    Minimising it estimates the conditional variance consistently even when returns are not
    normal (quasi-maximum likelihood, as for GARCH); the clip keeps exp() finite early in training.
    """
    ops = import_keras().ops
    s = ops.clip(ops.reshape(log_variance, (-1,)), -12.0, 12.0)
    y = ops.reshape(ops.cast(y_true, s.dtype), (-1,))
    return 0.5 * ops.mean(s + ops.square(y) * ops.exp(-s))
