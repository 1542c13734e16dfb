"""The benchmark: every eligible ticker at 1/N, rebalanced monthly."""
from __future__ import annotations

import datetime as dt

from strategies.portfolio.base import PortfolioStrategy


class EqualWeight(PortfolioStrategy):
    """Every ticker with a bar at the decision close at 1/N; no forecast used.

    Rebalanced at the close of the first tradable session and of the first session of each calendar
    month (filled at the next open), so what it holds is known from the calendar alone. The
    `rebalance` param is ignored. Params: start, risk, regime.
    """

    uses_forecast = False

    def rebalance_due(self, today: dt.date) -> bool:
        last = self._last_close
        return self._sessions == 0 or last is None or (today.year, today.month) != (last.year, last.month)

    def weights(self, scores: dict[str, float], held: dict[str, float]) -> dict[str, float]:
        return {n: 1.0 / len(scores) for n in scores} if scores else {}
