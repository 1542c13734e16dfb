"""Trade the forecast both ways: long on a high forecast, short on a low one, flat in between."""
from __future__ import annotations

import math

from strategies.base import RiskManagedStrategy


class LSTMLongShort(RiskManagedStrategy):
    """Long/short/flat on the forecast carried by the feed's `signal` line.

    Buy logic: the forecast of the next log return is above +`threshold` (a short is covered and
    the long opened at the same open).
    Sell logic: the forecast is below -`threshold` (sell short, closing any long first); a forecast
    inside [-threshold, +threshold] closes whatever is open. The only strategy here that shorts.
    Params: threshold (log return), plus the base start and risk.
    """

    bounds = {"threshold": "number >= 0"}
    params = (
        ("threshold", 0.0005),  # |forecast| above this takes a side; inside the band stays flat
    )

    def why(self) -> str:
        return (f"forecast {100 * self.data.signal[0]:+.3f}% against the band "
                f"±{100 * self.p.threshold:.3f}%")

    def target(self) -> int | None:
        forecast = self.data.signal[0]
        if math.isnan(forecast):
            return None
        if forecast > self.p.threshold:
            return 1
        if forecast < -self.p.threshold:
            return -1
        return 0
