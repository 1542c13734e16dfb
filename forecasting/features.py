"""Features computed from the past only: the value at date t uses bars up to the close of t.

Each feature is a small callable `(bars) -> Series` so a config can list, drop or add features,
and the look-ahead audit can check a user's own ones. Every rolling statistic here is trailing.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import pandas as pd


class FeatureError(ValueError):
    """A feature table that cannot be trusted: gaps, or values that need the future."""


class Feature(Protocol):
    def __call__(self, bars: pd.DataFrame) -> pd.Series: ...


def log_returns(close: pd.Series) -> pd.Series:
    """Log return from the previous close to this one."""
    return np.log(close).diff()


@dataclass
class LogReturn:
    """Today's close-to-close log return."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return log_returns(bars["Close"])


@dataclass
class IntradayRange:
    """log(High / Low): the day's trading range, a cheap volatility estimate."""

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return np.log(bars["High"] / bars["Low"])


@dataclass(kw_only=True)
class VolumeZScore:
    """Log volume standardised by its trailing mean and deviation over `window` days."""

    bounds: ClassVar[dict[str, str]] = {"window": "int >= 2"}

    window: int

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        logv = np.log1p(bars["Volume"])
        rolling = logv.rolling(self.window, min_periods=self.window)
        return ((logv - rolling.mean()) / rolling.std().replace(0, np.nan)).fillna(0.0).where(
            rolling.count() >= self.window)


@dataclass(kw_only=True)
class RealizedVolatility:
    """Trailing standard deviation of daily log returns over `window` days."""

    bounds: ClassVar[dict[str, str]] = {"window": "int >= 2"}

    window: int

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return log_returns(bars["Close"]).rolling(self.window, min_periods=self.window).std()


@dataclass(kw_only=True)
class RSI:
    """Wilder's relative strength index, rescaled to [-1, 1]."""

    bounds: ClassVar[dict[str, str]] = {"period": "int >= 1"}

    period: int

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        delta = bars["Close"].diff()
        alpha = 1.0 / self.period
        gain = delta.clip(lower=0).ewm(alpha=alpha, min_periods=self.period, adjust=False).mean()
        loss = (-delta.clip(upper=0)).ewm(alpha=alpha, min_periods=self.period, adjust=False).mean()
        total = (gain + loss).replace(0, np.nan)
        return (2 * gain / total - 1).fillna(0.0).where(gain.notna())


@dataclass(kw_only=True)
class MACD:
    """MACD histogram (fast EMA - slow EMA, minus its signal EMA) as a fraction of price."""

    bounds: ClassVar[dict[str, str]] = {"fast": "int >= 1", "slow": "int >= 1", "signal": "int >= 1"}

    fast: int
    slow: int
    signal: int

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        close = bars["Close"]
        macd = (close.ewm(span=self.fast, adjust=False).mean()
                - close.ewm(span=self.slow, adjust=False).mean())
        hist = macd - macd.ewm(span=self.signal, adjust=False).mean()
        out = hist / close
        out.iloc[: self.slow + self.signal] = np.nan  # EMAs need this many bars to settle
        return out


@dataclass(kw_only=True)
class SMAGap:
    """Close relative to its trailing `window`-day simple moving average, minus one."""

    bounds: ClassVar[dict[str, str]] = {"window": "int >= 1"}

    window: int

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        return bars["Close"] / bars["Close"].rolling(self.window, min_periods=self.window).mean() - 1


class FeatureBuilder:
    """Builds the feature table: one column per configured feature, warm-up rows dropped."""





    def __init__(self, columns: Mapping[str, Feature]) -> None:
        if not columns:
            raise FeatureError("features.columns is empty: configure at least one feature")
        self.columns = dict(columns)

    def __call__(self, bars: pd.DataFrame) -> pd.DataFrame:
        table = pd.DataFrame({name: feature(bars) for name, feature in self.columns.items()},
                             index=bars.index)
        table = table.replace([np.inf, -np.inf], np.nan)
        first_complete = table.notna().all(axis=1).to_numpy().argmax()
        table = table.iloc[first_complete:]
        if table.isna().to_numpy().any():
            bad = table.columns[table.isna().any()].tolist()
            if table[bad].iloc[-1].isna().any():
                raise FeatureError(f"feature(s) {', '.join(bad)} have no value on the last bar "
                                   f"({table.index[-1].date()}): they need data after their own "
                                   "date, which is look-ahead")
            raise FeatureError(f"feature(s) {', '.join(bad)} have gaps after their warm-up")
        return table.astype("float64")

    @property
    def names(self) -> list[str]:
        return list(self.columns)
