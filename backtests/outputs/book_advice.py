"""A portfolio strategy's decision at a close in words: each member's order for the next open and
its reason (rank, buffer, stop, cap, breaker), from PortfolioStrategy.decision().

The shares are the engine's own arithmetic (strategies.portfolio.base.target_shares) at the last
close's prices: the next open's price is not known yet, so an order may differ by the open's gap.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from strategies.portfolio.selection import ranked

CAPS = ("max_weight", "vol_target", "max_gross", "max_net")
STOPS = ("stop_loss", "trailing_stop", "atr_stop", "take_profit")


def _caps(rules: Any, regime: bool) -> str:
    named = [f"{k}={getattr(rules, k)}" for k in CAPS if getattr(rules, k, None) is not None]
    return ", ".join(named + (["the sentiment regime filter"] if regime else [])) or "the rules"


def _stopped(trades: pd.DataFrame, name: str, since: Any) -> str | None:
    """The date a protective order closed `name` after the last rebalance, if one did."""
    if trades.empty or since is None:
        return None
    mine = trades[(trades["ticker"] == name) & trades["exit_reason"].isin(STOPS)]
    mine = mine[pd.to_datetime(mine["exit_date"]) > pd.Timestamp(since)]
    return None if mine.empty else f"{mine['exit_reason'].iloc[-1]} on {mine['exit_date'].iloc[-1]}"


def rank_reason(name: str, raw: float, scores: Mapping[str, float], params: Mapping[str, Any],
                held_before: Mapping[str, float]) -> str:
    """Why the rebalance chose (or left out) `name`: its rank, or the n_drop buffer that kept it."""
    if name not in scores:
        return "no finite score at this close: not eligible"
    order = ranked(scores)
    n, rank, k = len(order), order.index(name) + 1, int(params.get("k") or 0)
    if raw < 0:
        return f"rank {n - rank + 1} from the bottom of {n}: short side"
    if raw > 0:
        if k and rank > k and held_before.get(name, 0.0) > 0:
            return (f"buffer: rank {rank} of {n}, outside the top {k} but kept (n_drop="
                    f"{params.get('n_drop')}: not in the bottom of the held names)")
        return f"rank {rank} of {n}" + (f" (top {k})" if k else "")
    return f"rank {rank} of {n}: not selected"


def book_orders(decision: Mapping[str, Any], params: Mapping[str, Any], rules: Any, regime: bool,
                trades: pd.DataFrame) -> list[dict[str, Any]]:
    """A row per member held, targeted or ranked: weights, shares now and after the next open's
    order, the order, and its reason."""
    held, orders, shares = decision["held"], decision["orders"], decision["shares"]
    scores, raw, targets = decision["scores"], decision["raw"], decision["targets"]
    breaker = decision["reason"] == "drawdown_breaker" or decision["breaker_blocked"]
    rebalance = decision["decided"] and decision["reason"] == "rebalance"
    rows = []
    ranked_now = set(scores) if rebalance else set()  # every member the rebalance ranked
    for name in sorted(set(held) | set(orders) | set(raw) | set(targets) | ranked_now):
        now = int(shares.get(name, 0))
        after = int(orders[name]["shares_after"]) if name in orders else now
        weight = float(orders[name]["weight"]) if name in orders else float(held.get(name, 0.0))
        reasons = []
        if breaker:
            reasons.append("breaker: the drawdown breaker " + ("flattens the book at the next open"
                                                                if decision["decided"] else
                                                                "keeps the book out for now"))
        elif rebalance:
            reasons.append(rank_reason(name, float(raw.get(name, 0.0)), scores, params,
                                       decision["held_at_rebalance"]))
            wanted, got = float(raw.get(name, 0.0)), float(targets.get(name, 0.0))
            if wanted and abs(got) < abs(wanted) * (1 - 1e-9):
                reasons.append(f"cap: {100 * wanted:.1f}% cut to {100 * got:.1f}% by "
                               f"{_caps(rules, regime)}")
        else:
            due = decision["sessions_to_rebalance"]
            reasons.append("no rebalance at this close" + (f" (the next in {due} sessions)" if due
                                                           else "") + ": the position drifts")
            stopped = _stopped(trades, name, decision["rebalanced"])
            if stopped and not now:
                reasons.append(f"stop: closed by {stopped}; stays out until the next rebalance")
        for rule, level in sorted((decision["stops"].get(name) or {}).items()):
            if after:
                reasons.append(f"{'take-profit' if rule == 'take_profit' else 'stop'} working at "
                               f"{level:.2f} ({rule.replace('_', ' ')})")
        delta = after - now
        order = "hold" if delta == 0 else f"{'buy' if delta > 0 else 'sell'} {abs(delta)}"
        rows.append({"ticker": name, "held_weight": float(held.get(name, 0.0)),
                     "target_weight": weight if math.isfinite(weight) else 0.0,
                     "shares_now": now, "shares_after": after, "order": order,
                     "reason": "; ".join(reasons)})
    return rows


def book_advice(decision: Mapping[str, Any], rows: list[dict[str, Any]]) -> str:
    """The book's decision in one sentence."""
    trades = [f"{r['order']} {r['ticker']}" for r in rows if r["order"] != "hold"]
    holding = sorted(r["ticker"] for r in rows if r["shares_after"])
    if decision["reason"] == "drawdown_breaker" and decision["decided"]:
        head = "the drawdown breaker flattens the book"
    elif decision["breaker_blocked"]:
        head = "the drawdown breaker keeps the book out"
    elif decision["decided"]:
        head = "rebalance at the next open"
    else:
        head = f"no rebalance at this close (the next in {decision['sessions_to_rebalance']} sessions)"
    return (f"{head}: {', '.join(trades) if trades else 'no orders'}; holding "
            f"{', '.join(holding) if holding else 'nothing'} after it")
