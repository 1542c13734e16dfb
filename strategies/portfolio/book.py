"""Round trips per ticker, from flat to flat, built from the fills (rebalance resizes included)."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Open:
    entry_date: dt.date
    sign: int
    held: float = 0.0        # signed shares now
    peak: float = 0.0        # largest |shares| held
    bought: float = 0.0      # shares added (|size|) and their cost, for the average entry
    bought_value: float = 0.0
    sold: float = 0.0        # shares taken off (|size|) and their value, for the average exit
    sold_value: float = 0.0
    cash: float = 0.0        # signed cash flow of the fills, commissions apart
    commission: float = 0.0


@dataclass
class TradeBook:
    """One row per round trip: entry/exit prices are size-weighted averages of the fills that grow
    and shrink the position, `size` the largest position held, pnl after every commission."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    open: dict[str, _Open] = field(default_factory=dict)

    def held(self, ticker: str) -> float:
        trade = self.open.get(ticker)
        return trade.held if trade else 0.0

    def fill(self, ticker: str, date: dt.date, size: float, price: float, commission: float,
             reason: str) -> None:
        """Book one fill; a fill never crosses zero (a reversal is sent as two orders)."""
        trade = self.open.get(ticker)
        if trade is None:
            trade = self.open[ticker] = _Open(entry_date=date, sign=1 if size > 0 else -1)
        if size * trade.sign > 0:
            trade.bought += abs(size)
            trade.bought_value += abs(size) * price
        else:
            trade.sold += abs(size)
            trade.sold_value += abs(size) * price
        trade.held += size
        trade.peak = max(trade.peak, abs(trade.held))
        trade.cash -= size * price
        trade.commission += commission
        if math.isclose(trade.held, 0.0, abs_tol=1e-9):
            self._close(ticker, date, 0.0, reason)

    def mark(self, ticker: str, date: dt.date, close: float) -> None:
        """A trade still open at the end: marked at the ticker's last close, no exit costs."""
        if ticker in self.open:
            self._close(ticker, date, close, "end_of_data")

    def _close(self, ticker: str, date: dt.date, close: float, reason: str) -> None:
        trade = self.open.pop(ticker)
        left = abs(trade.held)  # only when marked at the end
        entry = trade.bought_value / trade.bought
        exit_price = (trade.sold_value + left * close) / (trade.sold + left)
        pnl = trade.cash + trade.held * close - trade.commission
        self.rows.append({
            "ticker": ticker, "entry_date": trade.entry_date, "exit_date": date,
            "direction": "long" if trade.sign > 0 else "short", "size": trade.peak,
            "entry_price": entry, "exit_price": exit_price, "pnl": pnl,
            "pnl_pct": pnl / (entry * trade.peak), "exit_reason": reason})
