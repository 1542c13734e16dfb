"""The LSTM's recurrent siblings from qlib's benchmark: a GRU and the attention LSTM (ALSTM).

Each is the LSTM forecaster with another recurrent layer (forecasting/network.py), so the fold
scaling, the seeded training loop, early stopping, the warm-start guard, the global model and the
attributions are the LSTM's own: the comparison isolates the architecture.
"""
from __future__ import annotations

from forecasting.lstm import LSTMForecaster


class GRUForecaster(LSTMForecaster):
    """Gated recurrent units instead of LSTM cells (fewer weights a unit, often as good)."""

    cell = "gru"


class ALSTMForecaster(LSTMForecaster):
    """qlib's attention LSTM: the last output and an attention-weighted sum over the window's days."""

    cell = "alstm"
