"""Long the names with the highest forecasts, equally or by inverse volatility."""
from __future__ import annotations

from strategies.portfolio.ranking import RankingStrategy
from strategies.portfolio.selection import RANK_BY, side_weights, top_k


class TopK(RankingStrategy):
    """Long the `k` highest forecasts of the next day's log return, rebalanced every `rebalance`
    sessions.

    Buy logic: a name enters when it ranks in the top `k` at a rebalance close (with `n_drop`: when
    qlib's TopkDropout picks it to refill the book). Sell logic: it leaves when it drops out of the top
    `k` (with `n_drop`: only when it falls into the bottom `n_drop` of the held names and the best
    candidates, at most `n_drop` names a rebalance), or on a stop / the drawdown breaker.
    Params: k, weighting ("equal" or "inverse_vol": weight in proportion to 1 / volatility, the
    feeds' forecast with risk.vol_source=forecast, else the realised volatility of the last
    risk.vol_lookback returns), n_drop (None: exactly the top k), rebalance, rank_by ("forecast":
    the point forecast, as always; "p_up": P(up) of the feeds' distribution forecast; "sharpe": its
    mean / scale), plus start, risk, regime.
    """

    bounds = {"k": "int >= 1", "weighting": "one of: equal, inverse_vol", "n_drop": "int >= 0 | null",
              "rebalance": "int >= 1", "rank_by": f"one of: {', '.join(RANK_BY)}"}
    params = (
        ("k", 5),                 # names held
        ("weighting", "equal"),   # equal | inverse_vol
        ("n_drop", None),         # None: hold the top k; an int: TopkDropout, at most n_drop swaps
        ("rank_by", "forecast"),  # forecast | p_up | sharpe (mean / scale of the distribution)
    )

    def weights(self, scores: dict[str, float], held: dict[str, float]) -> dict[str, float]:
        longs = [n for n, w in held.items() if w > 0]
        names = top_k(scores, int(self.p.k), longs, self.p.n_drop)
        vols = self.vols(names) if self.p.weighting == "inverse_vol" else None
        return side_weights(names, 1.0, vols, slots=int(self.p.k))
