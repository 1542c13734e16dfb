"""The base every strategy builds on: when it may trade, how target positions become orders, the risk
rules every trade gets, and the trade log with exit reasons. Entry logic in subclasses stays a few
lines in `target()`.

Timing: `next()` runs at the close of bar t and decides with data up to that close (the signal line
included); `next_open()` runs at the open of bar t+1 and sends the orders, which fill at that open
(cerebro runs with cheat_on_open). `next_open` reads only `open[0]`: the bar's close is not known yet.

Size: a full position is what the sizer gives (strategies/sizers.py); a strategy may ask for a part
of it by setting `size_scale` with its target, and when it changes that part while keeping its side,
the position is resized at the next open by the difference (a resize; the trade log books it in
the same round trip at size-weighted average prices, as the portfolio book does).

Protective orders (one stop carrying every stop rule, and a take-profit) go out with the entry as
bracket children; a resize replaces them, re-priced off the average entry and sized to the new
position (a trailing stop restarts from that price). `ProtectiveBroker` prices them off the actual
fill and makes them live for the rest of the entry bar; they are real Stop / StopTrail / Limit
orders, so a bar that opens through a stop fills at that open, and one that trades through it
intraday fills at the stop (less slippage).
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from typing import Any

import backtrader as bt

from strategies.analyzers import RoundTrip
from strategies.broker import guard_hit_at_open
from strategies.feeds import SignalData
from strategies.risk import DrawdownBreaker, RiskRules, given_rules
from strategies.sizers import _largest_affordable

log = logging.getLogger(__name__)

_DEAD = (bt.Order.Canceled, bt.Order.Margin, bt.Order.Rejected, bt.Order.Expired)


class RiskManagedStrategy(bt.Strategy):
    """Turns `target()` (1 long, 0 flat, -1 short, None keep) into orders and records every trade.

    Buy / sell logic: whatever `target()` of the subclass asks for, filled at the next open; plus the
    risk rules: a protective stop (stop_loss, atr_stop, trailing_stop: the tightest wins), a
    take-profit, and the drawdown breaker, which flattens and keeps the strategy out for a while.
    Params:
      - start: first date whose close may produce an order (the first out-of-sample forecast date);
        bars before it only warm up indicators.
      - risk: the RiskRules every trade gets (None: none); the engine passes the `risk` config group.
    """

    params: Any = (  # backtrader turns this into self.p; subclasses add their own
        ("start", None),  # datetime.date: no decisions before this close
        ("risk", None),   # strategies.risk.RiskRules for every trade; None = no rules
    )
    uses_forecast = True  # reads the feed's `signal` line (False: prices only)
    feed: type[bt.feeds.PandasData] = SignalData  # the feed class whose lines target() reads

    def __init__(self) -> None:
        self.rules: RiskRules = given_rules(self.p.risk, type(self).__name__)
        self.trade_log: list[dict[str, Any]] = []
        self.in_market: dict[dt.date, bool] = {}
        self.bars_in_trade = 0  # closes seen since the open trade's entry filled
        self._desired: int | None = None
        self._reason = "signal"
        self._open_trade: RoundTrip | None = None
        self._held = 0.0
        self._guards: list[bt.Order] = []  # protective orders of the open trade, stop first
        self._sent_guards: dict[int, list[bt.Order]] = {}  # by entry ref, until the entry fills
        self._atr = bt.ind.ATR(self.data, period=self.rules.atr_period) if self.rules.atr_stop else None
        self._atr_now: float | None = None
        self._breaker = (DrawdownBreaker(self.rules.max_drawdown, self.rules.cooldown_days)
                         if self.rules.max_drawdown is not None else None)
        self.size_scale = 1.0  # part of a full position the next entry / resize takes (target sets it)
        self._sized_scale = 1.0  # the part the open position was last sized to

    # -- decisions at the close ---------------------------------------------------------------
    def target(self) -> int | None:
        """The position wanted after the next open: 1, 0, -1, or None for no change."""
        raise NotImplementedError

    def tradable(self) -> bool:
        return self.p.start is None or self.data.datetime.date(0) >= self.p.start

    @property
    def direction(self) -> int:
        size = self.position.size
        return 0 if size == 0 else int(math.copysign(1, size))

    def prenext(self) -> None:
        self.in_market[self.data.datetime.date(0)] = self.position.size != 0

    def next(self) -> None:
        self.in_market[self.data.datetime.date(0)] = self.position.size != 0
        if self.position.size:
            self.bars_in_trade += 1
        if self._atr is not None:
            self._atr_now = float(self._atr[0])  # ATR at this close prices a stop for the next open
        self._desired, self._reason = None, "signal"
        if not self.tradable():
            return
        if self._breaker is not None:
            bar = len(self)
            if self._breaker.update(bar, self.broker.getvalue()):
                self._desired, self._reason = 0, "drawdown_breaker"
                return
            if self._breaker.blocked(bar):
                return
        self._desired = self.target()

    def why(self) -> str:
        """The inputs behind the latest `target()` in words (for mode=predict)."""
        return ""

    def decision(self) -> dict[str, Any]:
        """What the latest close decided for the next open: the position now and the one wanted,
        why, and the protective orders working now (mode=predict reads this after the last bar)."""
        wanted = self._desired
        working = [o for o in self._guards if o.alive()]
        stops = [o for o in working if o.exectype != bt.Order.Limit]
        limits = [o for o in working if o.exectype == bt.Order.Limit]
        return {
            "position": self.direction,
            "target": self.direction if wanted is None else wanted,
            "reason": "no change" if wanted is None else self._reason,
            "why": self.why(),
            "bars_in_trade": self.bars_in_trade if self.direction else 0,
            "stop": float(stops[0].created.price) if stops else None,
            "stop_rule": self._exit_reason(stops[0]) if stops else None,
            "take_profit": float(limits[0].created.price) if limits else None,
            "breaker_blocked": bool(self._breaker is not None and self._breaker.blocked(len(self))),
        }

    # -- orders at the next open --------------------------------------------------------------
    def next_open(self) -> None:
        desired, self._desired = self._desired, None
        if desired is None:
            return
        if desired == self.direction:
            if desired != 0 and self.size_scale != self._sized_scale:
                self._resize(desired)
            return
        if self.direction != 0:
            # A bar that opens through a live stop or take-profit would fill it at this open, the
            # price a market exit gets too: exit with a market order, named after that rule, so a
            # reversal's new entry is checked for cash after the exit rather than beside it.
            hit = self._guard_hit_at_open()
            self.exit_position(self._reason if hit is None else self._exit_reason(hit))
        if desired != 0:
            self._enter(desired)

    def exit_position(self, reason: str) -> None:
        """Close the whole position at the next fill, recording why; its stops are withdrawn."""
        self._cancel_guards()
        self.close().addinfo(reason=reason)

    def _enter(self, direction: int) -> None:
        guarded = self.rules.has_stop or self.rules.take_profit is not None
        self._sized_scale = self.size_scale
        entry = (self.buy if direction > 0 else self.sell)(transmit=not guarded)
        if entry is None:  # the sizer found no room: no cash, or too little history for vol_target
            return
        if guarded:
            self._guard(entry, direction, abs(entry.created.size), float)  # off the fill itself

    def _resize(self, direction: int) -> None:
        """Take the open position to `size_scale` of a full one at this open: the difference in
        shares, a buy never larger than the cash can pay for. A bar that opens through a live stop
        or take-profit leaves the position to it."""
        self._sized_scale = self.size_scale
        if self._guard_hit_at_open() is not None:
            return
        held = abs(int(self.position.size))
        wanted = int(self.getsizing(isbuy=direction > 0))
        if wanted == 0:  # a part too small for one share (or no room left): out
            self.exit_position(self._reason)
            return
        change = wanted - held  # > 0 adds to the position, < 0 takes some off
        if change > 0:
            slip = self.broker.p.slip_perc or 0.0
            price = self.data.open[0] * (1 + slip if direction > 0 else 1 - slip)
            change = min(change, _largest_affordable(self.broker.getcash(), price,
                                                     self.broker.getcommissioninfo(self.data)))
        if change == 0 or self._open_trade is None:
            return
        guarded = self.rules.has_stop or self.rules.take_profit is not None
        self._cancel_guards()
        buys = (change > 0) == (direction > 0)
        order = (self.buy if buys else self.sell)(size=abs(change), transmit=not guarded)
        order.addinfo(reason="resize")
        if guarded:
            self._guard(order, direction, held + change,
                        functools.partial(self._open_trade.entry_after, change))

    def _guard(self, entry: bt.Order, direction: int, size: int, entry_after: Any) -> None:
        """Send the protective children of `entry` for a position of `size` shares; their levels
        are priced off `entry_after(fill)` once it fills (the fill itself for a fresh entry)."""
        protect = self.sell if direction > 0 else self.buy
        ref = self.data.open[0]  # placeholder price: the broker re-prices each child off the fill
        guards = []
        if self.rules.has_stop:
            trail = self.rules.trailing_stop
            kind = ({"exectype": bt.Order.StopTrail, "trailpercent": trail} if trail
                    else {"exectype": bt.Order.Stop})
            stop = protect(price=ref, size=size, parent=entry,
                           transmit=self.rules.take_profit is None, **kind)
            stop.addinfo(anchor=functools.partial(self._anchor_stop, direction, self._atr_now,
                                                  entry_after))
            guards.append(stop)
        if self.rules.take_profit is not None:
            limit = protect(exectype=bt.Order.Limit, price=ref, size=size, parent=entry, transmit=True)
            limit.addinfo(reason="take_profit",
                          anchor=functools.partial(self._anchor_limit, direction, entry_after))
            guards.append(limit)
        self._sent_guards[entry.ref] = guards

    def _anchor_stop(self, direction: int, atr: float | None, entry_after: Any, order: bt.Order,
                     fill: float) -> None:
        fill = entry_after(fill)
        found = self.rules.initial_stop(direction, fill, atr)
        if found is None:  # only atr_stop, and no ATR yet: a stop that never triggers
            log.warning("no ATR at entry, the position has no stop")
            found = (0.0 if direction > 0 else math.inf), "atr_stop"
        order.created.price = found[0]
        order.addinfo(fixed=self.rules.fixed_stops(direction, fill, atr))

    def _anchor_limit(self, direction: int, entry_after: Any, order: bt.Order, fill: float) -> None:
        order.created.price = self.rules.take_profit_price(direction, entry_after(fill))

    def _guard_hit_at_open(self) -> bt.Order | None:
        return guard_hit_at_open(self._guards, self.data.open[0])

    def _cancel_guards(self) -> None:
        for order in self._guards:
            if order.alive():
                self.cancel(order)  # a cancelled bracket child takes its siblings with it

    # -- bookkeeping --------------------------------------------------------------------------
    def notify_order(self, order: bt.Order) -> None:
        if order.status in _DEAD:
            lost = self._sent_guards.pop(order.ref, None)  # an entry that never filled
            if order.status != order.Canceled:
                log.warning("order %s %s on %s", order.ref, order.getstatusname(),
                            self.data.datetime.date(0))
            for child in lost or ():
                self.cancel(child)
            return
        if order.status != order.Completed:
            return
        # Track the size ourselves: when a close and a new entry fill on the same open, the broker's
        # position already shows both by the time the first notification arrives.
        executed = order.executed
        before, self._held = self._held, self._held + executed.size
        if before == 0 and self._held != 0:
            self._open_trade = RoundTrip(self.data.num2date(executed.dt).date(), order.isbuy(),
                                         abs(executed.size), executed.price, executed.comm)
            self.on_entry(order)
        elif before != 0 and self._held == 0:
            self._close_trade(self.data.num2date(executed.dt).date(), executed.price,
                              executed.comm, self._exit_reason(order))
            self.on_exit(order)
        elif before != 0:  # a resize: same trade, new size
            assert self._open_trade is not None
            self._open_trade.resize(executed.size, executed.price, executed.comm, self._held)
            self._guards = self._sent_guards.pop(order.ref, [])

    def on_entry(self, order: bt.Order) -> None:
        """Hook once an entry has filled: adopt the protective orders that rode with it."""
        self._guards = self._sent_guards.pop(order.ref, [])
        self.bars_in_trade = 0

    def on_exit(self, order: bt.Order) -> None:
        """Hook once the position is flat again: withdraw whatever protection is still working."""
        self._cancel_guards()
        self._guards = []

    def _exit_reason(self, order: bt.Order) -> str:
        fixed = order.info.get("fixed")
        if fixed is not None:  # the protective stop: which rule put it where it fired
            for rule, level in fixed.items():
                if math.isclose(order.created.price, level, rel_tol=1e-12):
                    return rule
            return "trailing_stop"
        return order.info.get("reason") or "signal"

    def _close_trade(self, date: dt.date, price: float, commission: float, reason: str) -> None:
        trade, self._open_trade = self._open_trade, None
        assert trade is not None
        self.trade_log.append(trade.close(date, price, commission, reason))

    def stop(self) -> None:
        """A trade still open at the end is marked at the last close (no exit costs are charged)."""
        if self._open_trade is not None:
            self._close_trade(self.data.datetime.date(0), self.data.close[0], 0.0, "end_of_data")
