"""The `broker` group: cash, commission (fraction of value or per share, with a minimum per order),
slippage and the invested fraction, and the backtrader commission scheme they describe.

Slippage is the broker's (a fraction of price, never outside the bar's range); see engine.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from strategies.commission import StockCommission


@dataclass(frozen=True)
class BrokerSettings:
    """The `broker` config group (see conf/broker/default.yaml for each field)."""

    cash: float
    commission: float
    slippage: float
    invest_fraction: float
    min_commission: float
    commission_type: str
    per_share: float

    bounds: ClassVar[dict[str, str]] = {  # checked before any data is read (settings/bounds.py)
        "cash": "number > 0", "commission": "0 <= number < 1", "slippage": "0 <= number < 1",
        "invest_fraction": "0 < number <= 1", "min_commission": "number >= 0",
        "per_share": "number >= 0", "commission_type": "one of: fraction, per_share"}

    def commission_info(self) -> StockCommission:
        """The backtrader commission scheme these settings describe."""
        return StockCommission(commission=self.commission, per_share=self.per_share,
                               minimum=self.min_commission,
                               per_share_mode=self.commission_type == "per_share")
