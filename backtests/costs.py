"""Trading costs: commission as a fraction of traded value or per share, with a minimum per order.

Slippage is the broker's (a fraction of price, never outside the bar's range); see engine.py.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import backtrader as bt

log = logging.getLogger(__name__)

COMMISSION_TYPES = ("fraction", "per_share")


@dataclass(frozen=True)
class BrokerSettings:
    """The `broker` config group, checked (see conf/broker/default.yaml for each field)."""

    cash: float = 100_000.0
    commission: float = 0.001
    slippage: float = 0.0005
    invest_fraction: float = 0.99
    min_commission: float = 0.0
    commission_type: str = "fraction"
    per_share: float = 0.0

    def __post_init__(self) -> None:
        if self.commission_type not in COMMISSION_TYPES:
            raise ValueError(f"broker.commission_type must be one of {COMMISSION_TYPES}, "
                             f"got {self.commission_type!r}")
        for name in ("commission", "slippage", "min_commission", "per_share"):
            if getattr(self, name) < 0:
                raise ValueError(f"broker.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.invest_fraction <= 1:
            raise ValueError(f"broker.invest_fraction must be in (0, 1], got {self.invest_fraction}")
        if self.cash <= 0:
            raise ValueError(f"broker.cash must be positive, got {self.cash}")

    def commission_info(self) -> StockCommission:
        """The backtrader commission scheme these settings describe."""
        return StockCommission(commission=self.commission, per_share=self.per_share,
                               minimum=self.min_commission,
                               per_share_mode=self.commission_type == "per_share")


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


