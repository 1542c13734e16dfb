"""Forecasting: past-only features, windows, walk-forward LSTM training and forecast scoring.

Knows nothing of backtrader. TensorFlow is imported only inside the network and forecaster code that
needs it, so validation and cached runs stay fast.
"""

import os

# TensorFlow's C++ INFO lines (oneDNN, CPU features) are noise in a run log; warnings still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
