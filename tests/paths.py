"""Hand-made price paths and a cost-free broker: the known-answer tests' raw material."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tests.builders import build

START = "2021-01-04"
FREE = build("broker/default", cash=1000, commission=0.0, slippage=0.0, invest_fraction=1.0)


def _finish(frame: pd.DataFrame, signal: Sequence[float] | None) -> pd.DataFrame:
    frame["Volume"] = 1_000.0
    frame["signal"] = list(signal) if signal is not None else [0.0] * len(frame)
    return frame[["Open", "High", "Low", "Close", "Volume", "signal"]]


def bars(opens: Sequence[float], closes: Sequence[float] | None = None, spread: float = 0.5,
         signal: Sequence[float] | None = None, start: str = START) -> pd.DataFrame:
    """Business-day bars: High/Low `spread` outside the open/close envelope; `signal` 0 by default."""
    index = pd.bdate_range(start, periods=len(opens), name="Date")
    closes = list(closes) if closes is not None else list(opens)
    frame = pd.DataFrame({"Open": list(opens), "Close": closes}, index=index, dtype="float64")
    frame["High"] = frame[["Open", "Close"]].max(axis=1) + spread
    frame["Low"] = frame[["Open", "Close"]].min(axis=1) - spread
    return _finish(frame, signal)


def ohlc(rows: Sequence[tuple[float, float, float, float]], signal: Sequence[float] | None = None,
         start: str = START) -> pd.DataFrame:
    """Business-day bars from explicit (open, high, low, close) rows."""
    index = pd.bdate_range(start, periods=len(rows), name="Date")
    frame = pd.DataFrame(list(rows), columns=["Open", "High", "Low", "Close"], index=index,
                         dtype="float64")
    return _finish(frame, signal)
