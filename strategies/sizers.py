"""Position sizing: how many shares a full position is, computed at the price the order trades at."""
from __future__ import annotations

import math

import backtrader as bt


class EquityFractionSizer(bt.Sizer):
    """Buys (or sells short) `fraction` of current equity at the next open.

    Orders are sized in `next_open` (cheat-on-open), where `data.open[0]` is the price the market
    order fills at, so a gap never turns an order into one the broker silently cancels for lack of
    cash. Slippage and commission are priced in so the fill always fits in the cash.
    """

    params = (
        ("fraction", 0.99),   # fraction of equity one full position uses
        ("slippage", 0.0),    # broker slippage fraction, priced in
        ("commission", 0.0),  # broker commission fraction, priced in
    )

    def _getsizing(self, comminfo, cash, data, isbuy):  # noqa: ANN001 (backtrader's signature)
        value = self.broker.getvalue()
        price = data.open[0] * (1 + self.p.slippage) * (1 + self.p.commission)
        if price <= 0:
            return 0
        size = math.floor(value * self.p.fraction / price)
        if isbuy:  # a buy must also fit in the cash on hand
            size = min(size, math.floor(cash / price))
        return max(size, 0)
