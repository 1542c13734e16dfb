"""The Keras LSTM network, kept apart from the wrapper that trains it (one can change alone)."""
from __future__ import annotations

from typing import Any

from forecasting.tf_import import import_keras


def build_lstm(window: int, n_features: int, units: int = 32, layers: int = 1, dropout: float = 0.0,
               learning_rate: float = 1e-3) -> Any:
    """Return a compiled LSTM regressor: (window, features) -> one scaled next-day return."""
    keras = import_keras()

    inputs = keras.Input(shape=(window, n_features))
    x = inputs
    for layer in range(layers):
        x = keras.layers.LSTM(units, return_sequences=layer < layers - 1)(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs, name="lstm_forecaster")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse",
                  jit_compile=False)  # XLA recompiles as the training set grows: slower walk-forward
    return model
