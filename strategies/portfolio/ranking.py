"""The base of the strategies that rank names by a score (topk, market_neutral): which score
(`rank_by`: the point forecast, P(up), or the distribution's mean over its scale) and the feed
lines it needs, checked when the strategy starts."""
from __future__ import annotations

from typing import Any

from strategies.feeds import DistributionData
from strategies.portfolio.base import PortfolioStrategy
from strategies.portfolio.selection import check_lines, rank_score


class RankingStrategy(PortfolioStrategy):
    """A portfolio strategy whose `score` is its `rank_by` param's (each subclass declares it)."""

    feed = DistributionData  # rank_by p_up / sharpe read its lines

    def __init__(self) -> None:
        super().__init__()
        check_lines(self.feeds, self.p.rank_by)

    def score(self, data: Any) -> float:
        return rank_score(data, self.p.rank_by)
