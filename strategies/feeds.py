"""The data feeds a strategy trades: OHLCV plus the forecasts known at each close (`signal`,
`volatility`, and for the distribution strategies the h-session distribution's `p_up`, `mean`,
`scale`, `df`)."""
from __future__ import annotations

from typing import Any

import backtrader as bt
from backtrader.utils import date2num


class ArrayData(bt.feeds.PandasData):
    """PandasData that reads each bar from plain lists made once at `start()`.

    Why: backtrader's PandasData reads every value of every bar with `DataFrame.iloc[row, col]`,
    which costs ~20 us each: with 500 feeds that was over half of a portfolio backtest's time. The
    same values (each column's own, as float) and the same datetime numbers (`date2num` of each
    index timestamp) reach the same lines, so fills are exactly PandasData's.
    """

    def start(self) -> None:
        super().start()
        frame = self.p.dataname
        self._columns: list[tuple[Any, list[float]]] = [
            (getattr(self.lines, field), frame.iloc[:, index].to_numpy(dtype="float64").tolist())
            for field in self.getlinealiases()
            if field != "datetime" and (index := self._colmapping[field]) is not None]
        column = self._colmapping["datetime"]
        stamps = frame.index if column is None else frame.iloc[:, column]
        self._stamps = [date2num(stamp.to_pydatetime()) for stamp in stamps]

    def _load(self) -> bool:
        self._idx += 1
        if self._idx >= len(self._stamps):
            return False
        row = self._idx
        for line, values in self._columns:
            line[0] = values[row]
        self.lines.datetime[0] = self._stamps[row]
        return True


class SignalData(ArrayData):
    """ArrayData (PandasData) with two extra lines read from the frame's columns of the same name.

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
