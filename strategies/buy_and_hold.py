"""Buy-and-hold: the benchmark, run through the same engine with the same costs."""
from __future__ import annotations

from strategies.base import RiskManagedStrategy


class BuyAndHold(RiskManagedStrategy):
    """Buy at the first open of the test period and hold to the end.

    Buy logic: long from the first tradable close onwards (fills at the next open).
    Sell logic: never sells on its own; the position is marked at the last close. Risk rules, if
    given, can close it, and it buys back at the next open (after any drawdown cool-down).
    Params: only the base `start` and `risk`.
    """

    uses_forecast = False

    def why(self) -> str:
        return "buy and hold is always long"

    def target(self) -> int | None:
        return 1
