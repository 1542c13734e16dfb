"""The benchmark: every eligible ticker at 1/N, rebalanced monthly."""
from __future__ import annotations

import datetime as dt

from strategies.portfolio.base import PortfolioStrategy


class EqualWeight(PortfolioStrategy):
    """Every ticker with a bar at the decision close at 1/N; no forecast used.

    Rebalanced at the close of the first tradable session and of the first session of each calendar
    month (filled at the next open), so what it holds is known from the calendar alone; with
    point-in-time membership (`members`) also at each close where the members changed, so it holds
    that day's members at 1/N (a leaver is sold at the next open). The `rebalance` param is
    ignored. Params: start, risk, regime, members.
    """

    uses_forecast = False

    def rebalance_due(self, today: dt.date) -> bool:
        last = self._last_close
        month = self._sessions == 0 or last is None or (today.year, today.month) != (last.year, last.month)
        return month or self._members_changed(today, last)

    def _members_changed(self, today: dt.date, last: dt.date | None) -> bool:
        if self._members is None or last is None:
            return False
        return self._members.get(today) != self._members.get(last)

    def weights(self, scores: dict[str, float], held: dict[str, float]) -> dict[str, float]:
        return {n: 1.0 / len(scores) for n in scores} if scores else {}
