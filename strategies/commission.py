"""The commission scheme every fill pays (backtrader's CommInfoBase, configured by `broker`)."""
from __future__ import annotations

import backtrader as bt


class StockCommission(bt.CommInfoBase):
    """Commission on every fill: max(minimum, rate), the rate being `commission` * |size| * price, or
    `per_share` * |size| in per-share mode. Stock-like, no margin, no leverage."""

    params = (
        ("commission", 0.001),     # fraction of traded value (fraction mode)
        ("per_share", 0.0),        # cash per share traded (per-share mode)
        ("per_share_mode", False),  # True: charge per_share, ignore commission
        ("minimum", 0.0),          # floor per order, in cash
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),         # 0.001 means 0.1%, not 0.001%
    )

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        if size == 0:
            return 0.0
        rate = self.p.per_share if self.p.per_share_mode else self.p.commission * price
        return max(self.p.minimum, abs(size) * rate)


