"""Which names a ranking strategy holds, what it ranks them by, and how a side's gross is split
between them."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

RANK_BY = ("forecast", "p_up", "sharpe")
_LINES = {"forecast": ("signal",), "p_up": ("p_up",), "sharpe": ("mean", "scale")}


def rank_score(data: Any, rank_by: str) -> float:
    """A feed's score at this close: the point forecast (`signal`), P(up) of the distribution
    forecast (`p_up`), or its mean over its scale (`sharpe`, NaN unless the scale is positive)."""
    if rank_by == "forecast":
        return float(data.signal[0])
    if rank_by == "p_up":
        return float(data.p_up[0])
    mean, scale = float(data.mean[0]), float(data.scale[0])
    return mean / scale if scale > 0 else math.nan


def check_lines(feeds: Mapping[str, Any], rank_by: str) -> None:
    """Refuse a ranking whose lines the feeds lack (they come with strategies.feeds.DistributionData)."""
    for name, data in feeds.items():
        missing = [line for line in _LINES[rank_by] if not hasattr(data.lines, line)]
        if missing:
            raise ValueError(f"rank_by={rank_by} needs the {', '.join(missing)} line(s), which the "
                             f"feed of {name} lacks: feed it through strategies.feeds.DistributionData")


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Names best first; ties broken by name so a run is reproducible."""
    return sorted(scores, key=lambda name: (-scores[name], name))


def top_k(scores: Mapping[str, float], k: int, held: Iterable[str] = (),
          n_drop: int | None = None) -> list[str]:
    """The names to hold: the best `k`, or with `n_drop` qlib's TopkDropoutStrategy selection.

    TopkDropout (qlib.contrib.strategy.signal_strategy): rank the held names; take the best
    `n_drop + k - len(held)` names not held as candidates; sell the held names that fall in the bottom
    `n_drop` of held + candidates; buy the best candidates until `k` are held again. So a held name
    whose rank slips a little is kept, and at most `n_drop` names turn over per rebalance. A held name
    without a score today ranks below every scored one (qlib sorts its NaN last).
    """
    if n_drop is None:
        return ranked(scores)[:k]
    held = list(held)
    last = sorted(held, key=lambda n: (-scores.get(n, -math.inf), n))
    fresh = [n for n in ranked(scores) if n not in held][:max(n_drop + k - len(last), 0)]
    comb = sorted(last + fresh, key=lambda n: (-scores.get(n, -math.inf), n))
    bottom = set(comb[-n_drop:]) if n_drop > 0 else set()
    sell = [n for n in last if n in bottom]
    buy = fresh[:len(sell) + k - len(last)]
    return [n for n in last if n not in sell] + buy


def side_weights(names: list[str], gross: float, vols: Mapping[str, float] | None = None,
                 slots: int = 0) -> dict[str, float]:
    """`gross` split equally over `names`, or in proportion to 1/vol when `vols` is given (a name
    without a finite positive volatility gets nothing: no position rather than a guess).

    With `slots` (k) and fewer names than that (few forecasts on a day), each name gets only its
    slot's share, gross x names / slots in all, and the rest stays in cash: one name with a
    forecast never becomes the whole book.
    """
    if vols is None:
        chosen = {n: 1.0 for n in names}
    else:
        chosen = {n: 1.0 / vols[n] for n in names
                  if math.isfinite(vols.get(n, math.nan)) and vols[n] > 0}
    total = sum(chosen.values())
    if total <= 0:
        return {}
    filled = gross * min(1.0, len(chosen) / slots) if slots > 0 else gross
    return {n: filled * v / total for n, v in chosen.items()}
