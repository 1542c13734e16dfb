"""The simulated broker the strategies assume: backtrader's BackBroker with protective orders that
cover the bar their entry fills on."""
from __future__ import annotations

import backtrader as bt


class ProtectiveBroker(bt.brokers.BackBroker):
    """BackBroker whose bracket children go live the moment their parent fills.

    Stock backtrader activates bracket children at the start of the next bar, which on daily data
    leaves the whole entry bar without a stop. Here, when a parent (the entry) fills, each child is
    first priced off the actual fill through the `anchor(child, fill_price)` callable in its `info`
    (a stop 5% below the entry means 5% below the price really paid), then activated. Children sit
    behind their parent in the pending queue, so they are tried against the rest of the same bar:
    the entry fills at the open, so everything after it in that bar (its high and low) can touch them.
    """

    def _bracketize(self, order: bt.Order, cancel: bool = False) -> None:
        children: list[bt.Order] = []
        if not cancel and order.parent is None and order.status == bt.Order.Completed:
            children = [o for o in self._pchildren.get(order.ref, ()) if o is not order]
        super()._bracketize(order, cancel=cancel)
        for child in children:
            anchor = child.info.get("anchor")
            if anchor is not None:
                anchor(child, order.executed.price)
            child.activate()  # also queued for activation next bar by backtrader: harmless


def guard_hit_at_open(guards: list[bt.Order], price: float) -> bt.Order | None:
    """The first live protective order a bar opening at `price` fills at that open, or None (a
    sell stop at or above the open, a sell limit at or below it; the other way round for buys)."""
    for order in guards:
        if not (order.alive() and order.active()):
            continue
        level, sells = order.created.price, order.issell()
        if order.exectype == bt.Order.Limit:
            hit = price >= level if sells else price <= level
        else:
            hit = price <= level if sells else price >= level
        if hit:
            return order
    return None
