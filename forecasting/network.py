"""The Keras LSTM networks, kept apart from the wrappers that train them (one can change alone)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forecasting.tf_import import import_keras


def _lstm_stack(keras: Any, x: Any, units: int, layers: int, cell: str = "lstm") -> Any:
    """The window's summary vector: the last output of stacked LSTM or GRU layers, or (`alstm`)
    qlib's attention LSTM's."""
    if cell == "alstm":
        return _attention_lstm(keras, x, units, layers)
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    for layer in range(layers):
        x = rnn(units, return_sequences=layer < layers - 1)(x)
    return x


def _attention_lstm(keras: Any, x: Any, units: int, layers: int) -> Any:
    """qlib's ALSTM (Qin et al. 2017, contrib/model/pytorch_alstm_ts.py): a tanh projection of each
    day, stacked LSTMs over the window, and beside the last output an attention-weighted sum of
    every day's output (softmax over days of a small tanh scorer), so that a day deep in the window
    can count as much as yesterday."""
    window = x.shape[1]
    x = keras.layers.Dense(units, activation="tanh")(x)
    for _ in range(layers):
        x = keras.layers.LSTM(units, return_sequences=True)(x)
    last = keras.layers.Flatten()(keras.layers.Cropping1D((window - 1, 0))(x))
    if window == 1:  # one day: its attention weight is 1, the weighted sum the last output itself
        return keras.layers.Concatenate()([last, last])
    score = keras.layers.Dense(max(1, units // 2), activation="tanh")(x)
    weight = keras.layers.Softmax(axis=1)(keras.layers.Dense(1, use_bias=False)(score))
    attended = keras.layers.Flatten()(keras.layers.Dot(axes=1)([weight, x]))
    return keras.layers.Concatenate()([last, attended])


def _compiled(keras: Any, inputs: Any, x: Any, dropout: float, learning_rate: float, name: str,
              loss: Any = "mse") -> Any:
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x), name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss,
                  jit_compile=False)  # XLA recompiles as the training set grows: slower walk-forward
    return model


def build_lstm(window: int, n_features: int, units: int = 32, layers: int = 1, dropout: float = 0.0,
               learning_rate: float = 1e-3, loss: str = "mse", cell: str = "lstm") -> Any:
    """Return a compiled recurrent regressor (LSTM, GRU or ALSTM: `cell`): (window, features) -> one number.

    With the default `loss="mse"` the number is the scaled next-day return; with
    `loss="gaussian_nll"` it is the log-variance of the scaled next-day return (the risk LSTM).
    """
    keras = import_keras()
    inputs = keras.Input(shape=(window, n_features))
    return _compiled(keras, inputs, _lstm_stack(keras, inputs, units, layers, cell), dropout,
                     learning_rate, f"{cell}_forecaster", gaussian_nll if loss == "gaussian_nll" else loss)


def build_global_lstm(window: int, n_features: int, n_tickers: int, embedding: int = 0,
                      units: int = 32, layers: int = 1, dropout: float = 0.0,
                      learning_rate: float = 1e-3, cell: str = "lstm") -> Any:
    """One LSTM (or GRU, ALSTM: `cell`) for every ticker: (window, features) and a ticker id -> one
    scaled target.

    With `embedding` > 0 a learned vector per ticker joins the LSTM's summary before the output, so
    the shared network can still treat tickers differently; with 0 the network has the windows as
    its only input.
    """
    keras = import_keras()
    inputs, x = _global_trunk(keras, window, n_features, n_tickers, embedding, units, layers, cell)
    return _compiled(keras, inputs, x, dropout, learning_rate, "global_lstm")


def _global_trunk(keras: Any, window: int, n_features: int, n_tickers: int, embedding: int,
                  units: int, layers: int, cell: str) -> tuple[Any, Any]:
    """(inputs, summary) of the global networks: the windows' recurrent summary, joined by the
    ticker's learned vector when `embedding` > 0 (layers made in one order: seeded weights)."""
    windows = keras.Input(shape=(window, n_features), name="windows")
    x = _lstm_stack(keras, windows, units, layers, cell)
    if embedding <= 0:
        return windows, x
    ticker = keras.Input(shape=(1,), dtype="int32", name="ticker")
    vector = keras.layers.Flatten()(keras.layers.Embedding(n_tickers, embedding)(ticker))
    return [windows, ticker], keras.layers.Concatenate()([x, vector])


def build_global_distribution_lstm(window: int, n_features: int, n_tickers: int, embedding: int = 0,
                                   units: int = 32, layers: int = 1, dropout: float = 0.0,
                                   learning_rate: float = 1e-3, cell: str = "lstm") -> tuple[Any, Any]:
    """(the network, its point view): the global LSTM with the distribution network's 1-session
    heads, the scaled next-day return's mean and log-variance ([mean_1, log_var_1], trained by
    `mean_variance_loss([1.0])`); the point view maps the same inputs to mean_1 alone (what
    attributions explain). One network gives the forecast and the risk (no risk LSTM per ticker).
    """
    keras = import_keras()
    inputs, x = _global_trunk(keras, window, n_features, n_tickers, embedding, units, layers, cell)
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    mean = keras.layers.Dense(1, name="mean_1")(x)
    log_variance = keras.layers.Dense(1, name="log_variance")(x)
    network = keras.Model(inputs, keras.layers.Concatenate()([mean, log_variance]),
                          name="global_distribution_lstm")
    network.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                    loss=mean_variance_loss([1.0]), jit_compile=False)
    return network, keras.Model(inputs, mean, name="global_distribution_lstm_mean")


def gaussian_nll(y_true: Any, log_variance: Any) -> Any:
    """Gaussian negative log-likelihood of a zero-mean target given its predicted log-variance.

    Minimising it estimates the conditional variance consistently even when returns are not
    normal (quasi-maximum likelihood, as for GARCH); the clip keeps exp() finite early in training.
    """
    ops = import_keras().ops
    s = ops.clip(ops.reshape(log_variance, (-1,)), -12.0, 12.0)
    y = ops.reshape(ops.cast(y_true, s.dtype), (-1,))
    return 0.5 * ops.mean(s + ops.square(y) * ops.exp(-s))


def build_distribution_lstm(window: int, n_features: int, horizons: Sequence[int], units: int = 32,
                            layers: int = 1, dropout: float = 0.0,
                            learning_rate: float = 1e-3) -> tuple[Any, Any]:
    """(the network, its point view): one LSTM trunk, for each horizon in `horizons` (sessions,
    the first 1) the scaled h-session return's mean and log-variance.

    The network's output is [mean_1, ..., mean_H, log_var_1, ..., log_var_H], trained by
    `mean_variance_loss`. The point view maps the same input to mean_1 alone, sharing the layers:
    what attributions explain (the forecast a strategy reads).
    """
    keras = import_keras()
    weights, count = [1.0 / h for h in horizons], len(horizons)
    inputs = keras.Input(shape=(window, n_features))
    x = _lstm_stack(keras, inputs, units, layers)
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    first = keras.layers.Dense(1, name="mean_1")(x)
    parts = [first]
    if count > 1:
        parts.append(keras.layers.Dense(count - 1, name="mean_rest")(x))
    parts.append(keras.layers.Dense(count, name="log_variance")(x))
    network = keras.Model(inputs, keras.layers.Concatenate()(parts), name="distribution_lstm")
    network.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                    loss=mean_variance_loss(weights), jit_compile=False)
    return network, keras.Model(inputs, first, name="distribution_lstm_mean")


def mean_variance_loss(weights: Sequence[float]) -> Any:
    """The loss of `build_distribution_lstm`: each horizon's squared error of the mean, weighted,
    plus the Gaussian negative log-likelihood of its log-variance around the mean held fixed (a
    stopped gradient), over the known targets only.

    The means learn from squared error alone, as the point forecaster's single output does, so the
    variance heads cannot trade a worse mean for a better likelihood; the variance heads learn
    the conditional variance by quasi-likelihood (consistent whatever the return distribution).
    `weights` (1/h for horizon h): overlapping h-session targets hold about 1/h of the daily
    ones' independent information, and unweighted they pulled the shared layers toward the long
    horizons, costing the 1-day mean (the point forecast) ~1.5% of MSE on MSFT 2013-2020.
    Unknown targets (NaN: an h-session return that runs past the training window, purged) weigh 0.
    A Keras loss object (its weights in its config), so a saved network loads with it
    (forecasting/checkpoint.py).
    """
    return mean_variance_class()(horizon_weights=[float(w) for w in weights])


_LOSS_CLASSES: list[type] = []


def mean_variance_class() -> type:
    """The Keras loss class behind `mean_variance_loss`, made once Keras is imported (this module
    imports it lazily: a run served from the caches never pays for TensorFlow)."""
    if not _LOSS_CLASSES:
        keras = import_keras()

        class MeanVarianceLoss(keras.losses.Loss):  # type: ignore[name-defined]
            def __init__(self, horizon_weights: Sequence[float], name: str = "mean_variance_loss",
                         **kwargs: Any) -> None:
                super().__init__(name=name, **kwargs)
                self.horizon_weights = [float(w) for w in horizon_weights]

            def call(self, y_true: Any, output: Any) -> Any:
                return _mean_variance(y_true, output, self.horizon_weights)

            def get_config(self) -> dict[str, Any]:
                return {**super().get_config(), "horizon_weights": self.horizon_weights}

        _LOSS_CLASSES.append(MeanVarianceLoss)
    return _LOSS_CLASSES[0]


def _mean_variance(y_true: Any, output: Any, weights: Sequence[float]) -> Any:
    ops = import_keras().ops
    y_true = ops.cast(y_true, output.dtype)
    horizons = y_true.shape[-1]
    mean, log_var = output[:, :horizons], ops.clip(output[:, horizons:], -12.0, 12.0)
    known = ops.logical_not(ops.isnan(y_true))
    weight = ops.cast(known, output.dtype)
    y = ops.where(known, y_true, ops.zeros_like(y_true))
    count = ops.maximum(ops.sum(weight), 1.0)
    per_horizon = ops.convert_to_tensor([list(weights)], dtype=output.dtype)
    squared = ops.sum(per_horizon * weight * ops.square(y - mean)) / count
    residual = y - ops.stop_gradient(mean)
    nll = ops.sum(weight * 0.5 * (log_var + ops.square(residual) * ops.exp(-log_var))) / count
    return squared + nll
