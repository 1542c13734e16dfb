"""The feeds read each bar from lists made once, and give exactly PandasData's lines.

backtrader's PandasData read every value with `DataFrame.iloc[row, col]`: with 500 feeds that was
over half of a portfolio backtest (issue 23). ArrayData must change the cost, never a value.
"""
from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from strategies.feeds import DistributionData, SignalData

LINES = ("datetime", "open", "high", "low", "close", "volume", "signal", "volatility")


def _frame(bars: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, bars)))
    frame = pd.DataFrame({"Open": close * 0.999, "High": close * 1.01, "Low": close * 0.99,
                          "Close": close, "Volume": rng.integers(1_000, 9_000, bars),  # int64
                          "signal": rng.normal(0, 0.001, bars)},
                         index=pd.bdate_range("2021-01-04", periods=bars, name="Date"))
    frame.loc[frame.index[:5], "signal"] = np.nan  # the training span: no forecast
    return frame  # no volatility column: NaN on every bar


class _Record(bt.Strategy):
    def __init__(self) -> None:
        self.seen: list[tuple[float, ...]] = []

    def next(self) -> None:
        self.seen.append(tuple(float(getattr(self.data.lines, name)[0]) for name in LINES))


def _lines(feed: type[bt.feeds.PandasData], frame: pd.DataFrame) -> list[tuple[float, ...]]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(feed(dataname=frame), name="X")
    cerebro.addstrategy(_Record)
    return cerebro.run()[0].seen


class _PandasSignal(bt.feeds.PandasData):  # the old SignalData: backtrader's own loading
    lines = ("signal", "volatility")
    params = (("signal", -1), ("volatility", -1))


def test_array_feeds_give_pandas_datas_exact_lines():
    from strategies.feeds import ArrayData

    frame = _frame()
    old, new = _lines(_PandasSignal, frame), _lines(SignalData, frame)
    assert len(new) == len(frame) and np.array_equal(np.array(old), np.array(new), equal_nan=True)
    assert np.isnan(np.array(new)[:, -1]).all() and np.isnan(np.array(new)[:5, -2]).all()
    assert issubclass(DistributionData, ArrayData)


def test_array_feeds_read_no_cell_through_iloc_per_bar(monkeypatch: pytest.MonkeyPatch):
    calls = {"n": 0}
    original = pd.core.indexing._iLocIndexer.__getitem__

    def counted(self, key):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return original(self, key)

    monkeypatch.setattr(pd.core.indexing._iLocIndexer, "__getitem__", counted)
    _lines(SignalData, _frame(200))
    assert calls["n"] <= 10  # one column read per line at the start, not 200 bars x 7 columns
