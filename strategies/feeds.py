"""The data feeds a strategy trades: OHLCV plus the forecasts known at each close (`signal`,
`volatility`, and for the distribution strategies the h-session distribution's `p_up`, `mean`,
`scale`, `df`)."""
from __future__ import annotations

import backtrader as bt


class SignalData(bt.feeds.PandasData):
    """PandasData with two extra lines read from the frame's columns of the same name.

    `signal[0]` on a bar is the forecast of the log return from that bar's close to the next one,
    known at that close; NaN where no out-of-sample forecast exists (the training span).
    `volatility[0]` is the forecast of the next day's DAILY volatility known at that close; NaN on
    every bar when the frame has no `volatility` column (realised volatility is used instead).
    """

    lines: tuple[str, ...] = ("signal", "volatility")
    # -1: find the column by name (absent: NaN)
    params: tuple[tuple[str, int], ...] = (("signal", -1), ("volatility", -1))


class DistributionData(SignalData):
    """SignalData plus the forecast distribution of ONE horizon h, known at each close.

    On the bar of close t: `mean`, `scale`, `df` are the location-scale Student-t of the h-session
    log return from the close of t to the close of t+h (df = inf: Gaussian, scale = its standard
    deviation), as in forecasting/distribution/base.py; `p_up` is P(that return > 0). NaN where no
    out-of-sample forecast exists, and on every bar for a column the frame lacks. Which h the
    columns hold is the strategy's `horizon` param; the pipeline fills them.
    """

    lines: tuple[str, ...] = ("p_up", "mean", "scale", "df")  # backtrader adds SignalData's
    params: tuple[tuple[str, int], ...] = (("p_up", -1), ("mean", -1), ("scale", -1), ("df", -1))
