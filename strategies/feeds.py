"""The data feed a strategy trades: OHLCV plus a `signal` line (the forecast known at each close)."""
from __future__ import annotations

import backtrader as bt


class SignalData(bt.feeds.PandasData):
    """PandasData with one extra line, `signal`, read from the frame's `signal` column.

    `signal[0]` on a bar is the forecast of the return from that bar's close to the next one, known
    at that close; NaN where no out-of-sample forecast exists (the training span).
    """

    lines = ("signal",)
    params = (("signal", -1),)  # -1: find the column by name
