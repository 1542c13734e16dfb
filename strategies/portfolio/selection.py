"""Which names a ranking strategy holds, and how a side's gross is split between them."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


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
