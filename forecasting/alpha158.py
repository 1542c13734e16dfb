"""qlib's Alpha158 factor families from OHLCV, past-only: the value at t uses bars up to t's close.

`features=alpha158` lists them (conf/features/alpha158.yaml): the candle's shape, the day's prices
relative to its close, and twenty rolling families over 5/10/20/30/60 days, each named after what
it measures rather than qlib's code (ROC is `Momentum`, RSV `StochasticPosition`...). Every rolling
statistic is computed on an explicit trailing window (`_trailing`: a strided view, no Python loop),
so a value never depends on a later bar and a degenerate window (a flat price, a day of zero
volume) gives a neutral number, never a gap. qlib's VWAP is not in OHLCV: the typical price
(high + low + close) / 3 stands in for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd

TINY = 1e-12  # keeps a ratio over a zero-width bar or window finite, as qlib's 1e-12


def _trailing(values: pd.Series, window: int) -> np.ndarray:
    """(rows, window) views of the last `window` values ending at each row (rows = n - window + 1)."""
    data = values.to_numpy(dtype=np.float64)
    if len(data) < window:
        return np.empty((0, window))
    return np.lib.stride_tricks.sliding_window_view(data, window)


def _placed(result: np.ndarray, like: pd.Series, window: int) -> pd.Series:
    """A per-window result as a Series on `like`'s index: NaN before the first full window."""
    out = np.full(len(like), np.nan)
    if len(result):
        out[window - 1:] = result
    return pd.Series(out, index=like.index)


def typical_price(bars: pd.DataFrame) -> pd.Series:
    """(high + low + close) / 3: the stand-in for qlib's VWAP, which OHLCV does not hold."""
    return (bars["High"] + bars["Low"] + bars["Close"]) / 3


# The candle (qlib's KBAR): its parts relative to the open, or to the day's range.
Base = Literal["open", "range"]


def _per(bars: pd.DataFrame, part: pd.Series, relative_to: Base) -> pd.Series:
    if relative_to == "open":
        return part / bars["Open"]
    return part / (bars["High"] - bars["Low"] + TINY)


@dataclass(kw_only=True)
class CandleBody:
    """(close - open) over the open, or over the day's range (qlib KMID, KMID2)."""

    bounds: ClassVar[dict[str, str]] = {"relative_to": "one of: open, range"}
    relative_to: Base

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return _per(bars, bars["Close"] - bars["Open"], self.relative_to)


@dataclass
class CandleLength:
    """(high - low) / open: the day's range (qlib KLEN)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return (bars["High"] - bars["Low"]) / bars["Open"]


@dataclass(kw_only=True)
class UpperShadow:
    """high - max(open, close), over the open or the range (qlib KUP, KUP2)."""

    bounds: ClassVar[dict[str, str]] = {"relative_to": "one of: open, range"}
    relative_to: Base

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        top = np.maximum(bars["Open"], bars["Close"])
        return _per(bars, bars["High"] - top, self.relative_to)


@dataclass(kw_only=True)
class LowerShadow:
    """min(open, close) - low, over the open or the range (qlib KLOW, KLOW2)."""

    bounds: ClassVar[dict[str, str]] = {"relative_to": "one of: open, range"}
    relative_to: Base

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        bottom = np.minimum(bars["Open"], bars["Close"])
        return _per(bars, bottom - bars["Low"], self.relative_to)


@dataclass(kw_only=True)
class CloseInRange:
    """(2 close - high - low), over the open or the range: where the close sits (qlib KSFT, KSFT2)."""

    bounds: ClassVar[dict[str, str]] = {"relative_to": "one of: open, range"}
    relative_to: Base

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return _per(bars, 2 * bars["Close"] - bars["High"] - bars["Low"], self.relative_to)


@dataclass(kw_only=True)
class PriceToClose:
    """log(price / close) for the day's open, high, low or typical price (qlib OPEN0 ... VWAP0)."""

    bounds: ClassVar[dict[str, str]] = {"price": "one of: Open, High, Low, Typical"}
    price: Literal["Open", "High", "Low", "Typical"]

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        price = typical_price(bars) if self.price == "Typical" else bars[self.price]
        return np.log(price / bars["Close"])


@dataclass(kw_only=True)
class Rolling:
    """A trailing-window statistic: subclasses compute it from (rows, window) arrays."""

    bounds: ClassVar[dict[str, str]] = {"window": "int >= 2"}
    window: int


@dataclass(kw_only=True)
class Momentum(Rolling):
    """log(close / close `window` days ago): the rate of change (qlib ROC, sign as a return)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["Close"]
        return np.log(close / close.shift(self.window))


@dataclass(kw_only=True)
class PriceDeviation(Rolling):
    """Standard deviation of the close over the window, over today's close (qlib STD)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["Close"]
        return _placed(_trailing(close, self.window).std(axis=1, ddof=1), close, self.window) / close


def _trend(close: pd.Series, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares line of the close on time over each window: (slope, R², last residual)."""
    y = _trailing(close, window)
    t = np.arange(window) - (window - 1) / 2
    sxx = float(t @ t)
    centred = y - y.mean(axis=1, keepdims=True)
    slope = (centred * t).sum(axis=1) / sxx  # not a matmul: BLAS blocking would make a
    # value depend on how many rows follow it, in the last bit
    syy = (centred ** 2).sum(axis=1)
    flat = syy <= TINY * np.maximum(1.0, y.mean(axis=1) ** 2)
    r2 = np.where(flat, 0.0, slope ** 2 * sxx / np.where(flat, 1.0, syy))
    residual = centred[:, -1] - slope * t[-1]
    return slope, r2, residual


@dataclass(kw_only=True)
class TrendSlope(Rolling):
    """Slope of the least-squares line through the window's closes, per day, over the close (BETA)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["Close"]
        return _placed(_trend(close, self.window)[0], close, self.window) / close


@dataclass(kw_only=True)
class TrendFit(Rolling):
    """R² of that line: how straight the window's path was; 0 for a flat window (qlib RSQR)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["Close"]
        return _placed(_trend(close, self.window)[1], close, self.window)


@dataclass(kw_only=True)
class TrendResidual(Rolling):
    """Today's close minus that line's value today, over the close (qlib RESI)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["Close"]
        return _placed(_trend(close, self.window)[2], close, self.window) / close


@dataclass(kw_only=True)
class HighGap(Rolling):
    """log(highest high of the window / close) (qlib MAX)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        high = _placed(_trailing(bars["High"], self.window).max(axis=1), bars["High"], self.window)
        return np.log(high / bars["Close"])


@dataclass(kw_only=True)
class LowGap(Rolling):
    """log(lowest low of the window / close) (qlib MIN)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        low = _placed(_trailing(bars["Low"], self.window).min(axis=1), bars["Low"], self.window)
        return np.log(low / bars["Close"])


@dataclass(kw_only=True)
class QuantileGap(Rolling):
    """log(the window's `quantile` of closes / close) (qlib QTLU at 0.8, QTLD at 0.2)."""

    bounds: ClassVar[dict[str, str]] = {"window": "int >= 2", "quantile": "0 < number < 1"}
    quantile: float

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["Close"]
        level = np.quantile(_trailing(close, self.window), self.quantile, axis=1)
        return np.log(_placed(level, close, self.window) / close)


@dataclass(kw_only=True)
class ClosePercentile(Rolling):
    """Today's close's percentile rank among the window's closes, ties averaged (qlib RANK)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        y = _trailing(bars["Close"], self.window)
        last = y[:, -1:]
        rank = (y < last).sum(axis=1) + ((y == last).sum(axis=1) + 1) / 2
        return _placed(rank / self.window, bars["Close"], self.window)


@dataclass(kw_only=True)
class StochasticPosition(Rolling):
    """(close - lowest low) / (highest high - lowest low) over the window (qlib RSV)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        high = _placed(_trailing(bars["High"], self.window).max(axis=1), bars["High"], self.window)
        low = _placed(_trailing(bars["Low"], self.window).min(axis=1), bars["Low"], self.window)
        return (bars["Close"] - low) / (high - low + TINY)


@dataclass(kw_only=True)
class DaysSinceHigh(Rolling):
    """Days since the window's highest high (the latest if tied), over the window (qlib IMAX)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        y = _trailing(bars["High"], self.window)[:, ::-1]  # newest first: argmax finds the latest
        return _placed(y.argmax(axis=1) / self.window, bars["High"], self.window)


@dataclass(kw_only=True)
class DaysSinceLow(Rolling):
    """Days since the window's lowest low (the latest if tied), over the window (qlib IMIN)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        y = _trailing(bars["Low"], self.window)[:, ::-1]
        return _placed(y.argmin(axis=1) / self.window, bars["Low"], self.window)


@dataclass(kw_only=True)
class PriceVolumeCorrelation(Rolling):
    """Correlation of close and log(1 + volume) over the window; 0 if either is flat (qlib CORR)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        a = _trailing(bars["Close"], self.window)
        b = _trailing(np.log1p(bars["Volume"]), self.window)
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
        norm = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
        corr = np.where(norm > TINY, (a * b).sum(axis=1) / np.where(norm > TINY, norm, 1.0), 0.0)
        return _placed(corr, bars["Close"], self.window)


def _changes(close: pd.Series, window: int) -> np.ndarray:
    """(rows, window) of close-to-close changes, aligned so row k ends at bar k (first row NaN)."""
    return _trailing(close.diff(), window)


@dataclass(kw_only=True)
class UpDayShare(Rolling):
    """Share of the window's days that closed above the day before (qlib CNTP)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        changes = _changes(bars["Close"], self.window)
        share = np.where(np.isnan(changes).any(axis=1), np.nan, (changes > 0).mean(axis=1))
        return _placed(share, bars["Close"], self.window)


@dataclass(kw_only=True)
class GainShare(Rolling):
    """Sum of the window's gains over the sum of its absolute changes; 0.5 if flat (qlib SUMP)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        changes = _changes(bars["Close"], self.window)
        moved = np.abs(changes).sum(axis=1)
        gains = np.clip(changes, 0, None).sum(axis=1)
        share = np.where(moved > TINY, gains / np.where(moved > TINY, moved, 1.0), 0.5)
        return _placed(np.where(np.isnan(moved), np.nan, share), bars["Close"], self.window)


@dataclass(kw_only=True)
class VolumeToAverage(Rolling):
    """log((1 + the window's mean volume) / (1 + today's volume)) (qlib VMA, in logs)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        volume = bars["Volume"]
        mean = _placed(_trailing(volume, self.window).mean(axis=1), volume, self.window)
        return np.log1p(mean) - np.log1p(volume)


@dataclass(kw_only=True)
class VolumeVariation(Rolling):
    """Standard deviation of the window's volume over (1 + its mean) (qlib VSTD, per mean)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        y = _trailing(bars["Volume"], self.window)
        return _placed(y.std(axis=1, ddof=1) / (1 + y.mean(axis=1)), bars["Volume"], self.window)


@dataclass(kw_only=True)
class MoveVolumeVariation(Rolling):
    """Coefficient of variation of |daily return| x volume over the window: how unevenly the
    traded moves came; 0 for a window without one (qlib WVMA)."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        weighted = (bars["Close"].pct_change().abs() * bars["Volume"])
        y = _trailing(weighted, self.window)
        mean = y.mean(axis=1)
        cv = np.where(mean > TINY, y.std(axis=1, ddof=1) / np.where(mean > TINY, mean, 1.0), 0.0)
        return _placed(np.where(np.isnan(mean), np.nan, cv), bars["Close"], self.window)
