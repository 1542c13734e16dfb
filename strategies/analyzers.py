"""What a run records: the analyzers the engine adds to every run (beside backtrader's own
TimeReturn), and a single-ticker strategy's round trips, the rows of trades.csv."""
from __future__ import annotations

import datetime as dt
from typing import Any

import backtrader as bt


class EquityAtClose(bt.Analyzer):
    """Broker value at each close, keyed by date."""

    def start(self) -> None:
        self.values: dict[dt.date, float] = {}

    def next(self) -> None:
        self.values[self.data.datetime.date(0)] = self.strategy.broker.getvalue()

    def get_analysis(self) -> dict[dt.date, float]:
        return self.values


class RoundTrip:
    """The open trade: its entry fill, then any resize fills (a position grown or shrunk on the same
    side). A trade never resized books pnl = (exit - entry) x size - commissions; a resized one
    books every fill's cash flow, with `size` the largest position held and the entry and exit
    prices size-weighted averages of what was bought and sold (as the portfolio book does)."""

    def __init__(self, date: dt.date, long: bool, size: float, price: float,
                 commission: float) -> None:
        self.sign = 1 if long else -1
        self.row: dict[str, Any] = {"entry_date": date, "direction": "long" if long else "short",
                                    "size": size, "entry_price": price}
        self.commission = commission
        self.fills: dict[str, float] | None = None  # bought, sold (shares, value), cash: once resized

    def _bought(self) -> tuple[float, float]:
        if self.fills is not None:
            return self.fills["bought"], self.fills["bought_value"]
        return self.row["size"], self.row["size"] * self.row["entry_price"]

    def entry_after(self, change: int, fill: float) -> float:
        """The average entry once a resize of `change` shares (> 0 adds) fills at `fill`."""
        bought, value = self._bought()
        if change > 0:
            return (value + change * fill) / (bought + change)
        return value / bought

    def resize(self, size: float, price: float, commission: float, held: float) -> None:
        """Book a resize fill of signed `size` shares; `held` is the position after it."""
        if self.fills is None:
            bought, value = self._bought()
            self.fills = {"bought": bought, "bought_value": value, "sold": 0.0, "sold_value": 0.0,
                          "cash": -self.sign * value}
        side = "bought" if size * self.sign > 0 else "sold"
        self.fills[side] += abs(size)
        self.fills[side + "_value"] += abs(size) * price
        self.fills["cash"] -= size * price
        self.commission += commission
        self.row["entry_price"] = self.fills["bought_value"] / self.fills["bought"]
        self.row["size"] = max(self.row["size"], abs(held))

    def close(self, date: dt.date, price: float, commission: float, reason: str) -> dict[str, Any]:
        """The trades.csv row once the rest of the position closes (or is marked) at `price`."""
        trade, fills = self.row, self.fills
        if fills is None:
            gross = (price - trade["entry_price"]) * trade["size"] * self.sign
        else:
            left = abs(fills["bought"] - fills["sold"])
            gross = fills["cash"] + self.sign * left * price
            price = (fills["sold_value"] + left * price) / (fills["sold"] + left)
        pnl = gross - self.commission - commission
        trade.update(exit_date=date, exit_price=price, pnl=pnl,
                     pnl_pct=pnl / (trade["entry_price"] * trade["size"]), exit_reason=reason)
        return trade
