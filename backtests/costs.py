"""Trading costs: commission as a fraction of traded value with an optional minimum per order."""
from __future__ import annotations

from dataclasses import dataclass

import backtrader as bt


@dataclass(frozen=True)
class BrokerSettings:
    """The `broker` config group, checked (see conf/broker/default.yaml for each field)."""

    cash: float = 100_000.0
    commission: float = 0.001
    slippage: float = 0.0005
    invest_fraction: float = 0.99
    min_commission: float = 0.0


class FractionCommission(bt.CommInfoBase):
    """Commission = max(minimum, commission * |size| * price) on every fill; stock-like, no margin."""

    params = (
        ("commission", 0.001),  # fraction of traded value
        ("minimum", 0.0),       # floor per order, in cash
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),      # 0.001 means 0.1%, not 0.001%
    )

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        if size == 0:
            return 0.0
        return max(self.p.minimum, abs(size) * price * self.p.commission)
