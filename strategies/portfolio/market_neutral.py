"""Long the best forecasts and short the worst, dollar neutral."""
from __future__ import annotations

from strategies.portfolio.ranking import RankingStrategy
from strategies.portfolio.selection import RANK_BY, side_weights, top_k


class MarketNeutral(RankingStrategy):
    """Long the `k` highest forecasts and short the `k` lowest, each side gross 0.5 (net 0).

    Buy / sell logic per side as in TopK (the short side ranks the negated forecasts), with the same
    `n_drop` buffer per side; a name never sits on both sides. On a day with fewer than 2k names to
    rank each side takes half of them (at the k-slot weight, the rest in cash), and with fewer
    than two the book is flat; if one side ends up lighter (inverse_vol finds no volatility for a
    name) the other is scaled down to it, so the book stays dollar neutral. Stops and the breaker
    as everywhere.
    Params: k, weighting (equal | inverse_vol), n_drop, rebalance, rank_by (forecast | p_up |
    sharpe, as in TopK; the short side takes the lowest), plus start, risk, regime.
    """

    bounds = {"k": "int >= 1", "weighting": "one of: equal, inverse_vol", "n_drop": "int >= 0 | null",
              "rebalance": "int >= 1", "rank_by": f"one of: {', '.join(RANK_BY)}"}
    params = (
        ("k", 5),                 # names per side
        ("weighting", "equal"),   # equal | inverse_vol
        ("n_drop", None),         # None: exactly the top / bottom k; an int: TopkDropout per side
        ("rank_by", "forecast"),  # forecast | p_up | sharpe (mean / scale of the distribution)
    )

    def weights(self, scores: dict[str, float], held: dict[str, float]) -> dict[str, float]:
        k, n_drop = int(self.p.k), self.p.n_drop
        per_side = min(k, len(scores) // 2)
        if per_side == 0:
            return {}
        longs = top_k(scores, per_side, [n for n, w in held.items() if w > 0], n_drop)
        rest = {n: -s for n, s in scores.items() if n not in longs}
        shorts = top_k(rest, per_side, [n for n, w in held.items() if w < 0 and n not in longs],
                       n_drop)
        inverse = self.p.weighting == "inverse_vol"
        long = side_weights(longs, 0.5, self.vols(longs) if inverse else None, slots=k)
        short = side_weights(shorts, 0.5, self.vols(shorts) if inverse else None, slots=k)
        lighter = min(sum(long.values()), sum(short.values()))
        if lighter <= 0:
            return {}
        long = {n: w * lighter / sum(long.values()) for n, w in long.items()}
        short = {n: w * lighter / sum(short.values()) for n, w in short.items()}
        return long | {n: -w for n, w in short.items()}
