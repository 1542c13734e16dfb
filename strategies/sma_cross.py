"""The classic moving-average crossover: a baseline that uses prices only, no forecast."""
from __future__ import annotations

import backtrader as bt

from strategies.base import RiskManagedStrategy


class SmaCross(RiskManagedStrategy):
    """Long/flat on the crossing of a fast and a slow simple moving average of the close.

    Buy logic: the fast mean crosses above the slow one at a close (an event: a strategy stopped
    out waits for the next upward cross rather than buying straight back).
    Sell logic: the fast mean crosses below the slow one.
    Params: fast, slow (bars), plus the base start and risk.
    """

    uses_forecast = False
    bounds = {"fast": "int >= 1", "slow": "int >= 1"}  # fast < slow: settings/validate.py

    params = (
        ("fast", 50),   # bars in the fast moving average
        ("slow", 200),  # bars in the slow moving average (more than fast)
    )

    def __init__(self) -> None:
        super().__init__()
        self.fast = bt.ind.SMA(self.data.close, period=int(self.p.fast))
        self.slow = bt.ind.SMA(self.data.close, period=int(self.p.slow))
        self.cross = bt.ind.CrossOver(self.fast, self.slow)

    def why(self) -> str:
        side = "above" if self.fast[0] > self.slow[0] else "below"
        event = {1: "crossed above it today", -1: "crossed below it today"}.get(int(self.cross[0]),
                                                                                "no cross today")
        return (f"SMA{self.p.fast} {self.fast[0]:.2f} is {side} SMA{self.p.slow} {self.slow[0]:.2f} "
                f"({event})")

    def target(self) -> int | None:
        if self.cross[0] > 0:
            return 1
        if self.cross[0] < 0:
            return 0
        return None
