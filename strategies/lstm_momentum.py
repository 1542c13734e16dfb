"""Trade the forecast: long while the predicted next-day return is high enough, flat otherwise."""
from __future__ import annotations

import math

from strategies.base import RiskManagedStrategy


class LSTMMomentum(RiskManagedStrategy):
    """Long/flat on the forecast carried by the feed's `signal` line.

    Buy logic: flat, and the forecast of the next log return is above `entry`.
    Sell logic: long, and the forecast falls below `exit` (`exit` < `entry` gives hysteresis, so a
    forecast hovering near one threshold does not churn the position and pay costs each day).
    Params: entry, exit (log-return thresholds), plus the base `start`.
    """

    params = (
        ("entry", 0.0005),  # enter long when forecast > entry
        ("exit", 0.0),      # exit when forecast < exit
    )

    def target(self) -> int | None:
        forecast = self.data.signal[0]
        if math.isnan(forecast):
            return None
        if self.direction == 0 and forecast > self.p.entry:
            return 1
        if self.direction > 0 and forecast < self.p.exit:
            return 0
        return None
