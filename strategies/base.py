"""The base every strategy builds on: when it may trade, how target positions become orders, and the
trade log with exit reasons. Entry logic in subclasses stays a few lines in `target()`.

Timing: `next()` runs at the close of bar t and decides with data up to that close (the signal line
included); `next_open()` runs at the open of bar t+1 and sends the orders, which fill at that open
(cerebro runs with cheat_on_open). `next_open` reads only `open[0]`: the bar's close is not known yet.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import backtrader as bt


class RiskManagedStrategy(bt.Strategy):
    """Turns `target()` (1 long, 0 flat, -1 short, None keep) into orders and records every trade.

    Params:
      - start: first date whose close may produce an order (the first out-of-sample forecast date);
        bars before it only warm up indicators.
    """

    params = (
        ("start", None),  # datetime.date: no decisions before this close
    )

    def __init__(self) -> None:
        self.trade_log: list[dict[str, Any]] = []
        self.in_market: list[bool] = []
        self._desired: int | None = None
        self._open_trade: dict[str, Any] | None = None
        self._exit_reason = "signal"
        self._held = 0.0

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

    def next(self) -> None:
        self.in_market.append(self.position.size != 0)
        self._desired = self.target() if self.tradable() else None

    # -- orders at the next open --------------------------------------------------------------
    def next_open(self) -> None:
        desired, self._desired = self._desired, None
        if desired is None or desired == self.direction:
            return
        if self.direction != 0:
            self.exit_position("signal")
        if desired > 0:
            self.buy().addinfo(reason="signal")
        elif desired < 0:
            self.sell().addinfo(reason="signal")

    def exit_position(self, reason: str) -> None:
        """Close the whole position at the next fill, recording why."""
        self._exit_reason = reason
        self.close().addinfo(reason=reason)

    # -- bookkeeping --------------------------------------------------------------------------
    def notify_order(self, order: bt.Order) -> None:
        if order.status != order.Completed:
            return
        # Track the size ourselves: when a close and a new entry fill on the same open, the broker's
        # position already shows both by the time the first notification arrives.
        executed = order.executed
        before, self._held = self._held, self._held + executed.size
        if before == 0 and self._held != 0:
            self._open_trade = {
                "entry_date": self.data.num2date(executed.dt).date(),
                "direction": "long" if order.isbuy() else "short",
                "size": abs(executed.size), "entry_price": executed.price,
                "entry_commission": executed.comm,
            }
            self.on_entry(order)
        elif before != 0 and self._held == 0:
            reason = order.info.get("reason", None) or self._exit_reason
            self._close_trade(self.data.num2date(executed.dt).date(), executed.price,
                              executed.comm, reason)
            self.on_exit(order)

    def on_entry(self, order: bt.Order) -> None:
        """Hook for risk rules once an entry has filled (stops are placed here)."""

    def on_exit(self, order: bt.Order) -> None:
        """Hook for risk rules once the position is flat again (pending stops are cancelled here)."""

    def _close_trade(self, date: dt.date, price: float, commission: float, reason: str) -> None:
        trade, self._open_trade = self._open_trade, None
        assert trade is not None
        sign = 1 if trade["direction"] == "long" else -1
        gross = (price - trade["entry_price"]) * trade["size"] * sign
        pnl = gross - trade.pop("entry_commission") - commission
        trade.update(exit_date=date, exit_price=price, pnl=pnl,
                     pnl_pct=pnl / (trade["entry_price"] * trade["size"]), exit_reason=reason)
        self.trade_log.append(trade)

    def stop(self) -> None:
        """A trade still open at the end is marked at the last close (no exit costs are charged)."""
        if self._open_trade is not None:
            self._close_trade(self.data.datetime.date(0), self.data.close[0], 0.0, "end_of_data")
