"""The data feed a strategy trades: OHLCV plus the forecasts known at each close (`signal`,
`volatility`)."""
from __future__ import annotations

import backtrader as bt


class SignalData(bt.feeds.PandasData):
    """PandasData with two extra lines read from the frame's columns of the same name.

    `signal[0]` on a bar is the forecast of the log return from that bar's close to the next one,
    known at that close; NaN where no out-of-sample forecast exists (the training span).
    `volatility[0]` is the forecast of the next day's DAILY volatility known at that close; NaN on
    every bar when the frame has no `volatility` column (realised volatility is used instead).
    """

    lines = ("signal", "volatility")
    params = (("signal", -1), ("volatility", -1))  # -1: find the column by name (absent: NaN)
