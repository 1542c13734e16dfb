"""Trade the forecast: long while the predicted next-day return is high enough, flat otherwise."""
from __future__ import annotations

import math

import backtrader as bt

from strategies.base import RiskManagedStrategy


class LSTMMomentum(RiskManagedStrategy):
    """Long/flat on the forecast carried by the feed's `signal` line.

    Buy logic: flat, the forecast of the next log return is above `entry`, and (if `confirm_sma` is
    set) the close is above its `confirm_sma`-day mean, so the forecast is not fighting the trend.
    Sell logic: long for at least `min_hold` bars, and the forecast falls below `exit` (`exit` <
    `entry` gives hysteresis, so a forecast hovering near one threshold does not churn the position
    and pay costs each day). Stops and the other risk rules apply from the entry, min_hold or not.
    Params: entry, exit (log-return thresholds), confirm_sma, min_hold, plus the base start and risk.
    """

    bounds = {"entry": "number", "exit": "number", "confirm_sma": "int >= 1 | null",
              "min_hold": "int >= 0"}  # exit <= entry is checked across keys (settings/validate.py)
    params = (
        ("entry", 0.0005),      # enter long when forecast > entry
        ("exit", 0.0),          # exit when forecast < exit (must not exceed entry)
        ("confirm_sma", None),  # bars in the trend filter (enter only if close > its mean); None = off
        ("min_hold", 0),        # bars a trade is held before a signal exit is allowed; 0 = no minimum
    )

    def __init__(self) -> None:
        super().__init__()
        self.trend = (bt.ind.SMA(self.data.close, period=int(self.p.confirm_sma))
                      if self.p.confirm_sma else None)

    def why(self) -> str:
        forecast = self.data.signal[0]
        text = (f"forecast {100 * forecast:+.3f}% against entry {100 * self.p.entry:+.3f}% and exit "
                f"{100 * self.p.exit:+.3f}%")
        if self.trend is not None:
            above = self.data.close[0] > self.trend[0]
            text += (f"; close {self.data.close[0]:.2f} is {'above' if above else 'not above'} its "
                     f"{self.p.confirm_sma}-day mean {self.trend[0]:.2f}")
        if self.direction and self.p.min_hold:
            text += f"; held {self.bars_in_trade} of at least {self.p.min_hold} bars"
        return text

    def target(self) -> int | None:
        forecast = self.data.signal[0]
        if math.isnan(forecast):
            return None
        if self.direction == 0:
            confirmed = self.trend is None or self.data.close[0] > self.trend[0]
            return 1 if forecast > self.p.entry and confirmed else None
        if forecast < self.p.exit and self.bars_in_trade >= self.p.min_hold:
            return 0
        return None
