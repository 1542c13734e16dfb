"""Protective orders of one portfolio position: one stop carrying every stop rule, and a take-profit,
sent as bracket children of the order that opens or resizes the position.

`ProtectiveBroker` prices them off the actual fill and makes them live for the rest of that bar, as
for a single ticker. A resize replaces them: the stop and the take-profit are re-priced off the
trade's size-weighted average entry after the fill, sized to the new position; a trailing stop
restarts from that price. Stop levels thus follow what was really paid.
"""
from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable

import backtrader as bt

from strategies.broker import guard_hit_at_open
from strategies.risk import RiskRules

log = logging.getLogger(__name__)


def guard_orders(strategy: bt.Strategy, rules: RiskRules, data: bt.LineSeries, leg: bt.Order,
                 direction: int, size: float, atr: float | None,
                 entry_after: Callable[[float], float]) -> list[bt.Order]:
    """Send the protective children of `leg` for a position of `size` shares in `direction`;
    `entry_after(fill)` gives the average entry the levels are priced from once `leg` fills."""
    protect = strategy.sell if direction > 0 else strategy.buy
    ref = data.open[0]  # placeholder price: the broker re-prices each child off the fill
    guards = []
    if rules.has_stop:
        trail = rules.trailing_stop
        kind = ({"exectype": bt.Order.StopTrail, "trailpercent": trail} if trail
                else {"exectype": bt.Order.Stop})
        stop = protect(data=data, price=ref, size=size, parent=leg,
                       transmit=rules.take_profit is None, **kind)
        stop.addinfo(anchor=functools.partial(_anchor_stop, rules, direction, atr, entry_after))
        guards.append(stop)
    if rules.take_profit is not None:
        limit = protect(data=data, exectype=bt.Order.Limit, price=ref, size=size, parent=leg,
                        transmit=True)
        limit.addinfo(reason="take_profit",
                      anchor=functools.partial(_anchor_limit, rules, direction, entry_after))
        guards.append(limit)
    return guards


def _anchor_stop(rules: RiskRules, direction: int, atr: float | None,
                 entry_after: Callable[[float], float], order: bt.Order, fill: float) -> None:
    entry = entry_after(fill)
    found = rules.initial_stop(direction, entry, atr)
    if found is None:  # only atr_stop, and no ATR yet: a stop that never triggers
        log.warning("no ATR at entry, the position has no stop")
        found = (0.0 if direction > 0 else math.inf), "atr_stop"
    order.created.price = found[0]
    order.addinfo(fixed=rules.fixed_stops(direction, entry, atr))


def _anchor_limit(rules: RiskRules, direction: int, entry_after: Callable[[float], float],
                  order: bt.Order, fill: float) -> None:
    order.created.price = rules.take_profit_price(direction, entry_after(fill))


def hit_at_open(guards: list[bt.Order], price: float) -> bool:
    """True when a live guard would fill at this open (the bar opens through it)."""
    return guard_hit_at_open(guards, price) is not None


def exit_reason(order: bt.Order) -> str:
    """Why a fill happened: the rule whose level a protective stop sat at, or the order's reason."""
    fixed = order.info.get("fixed")
    if fixed is not None:
        for rule, level in fixed.items():
            if math.isclose(order.created.price, level, rel_tol=1e-12):
                return rule
        return "trailing_stop"
    return order.info.get("reason") or "rebalance"
