"""The `broker` group: cash, commission (fraction of value or per share, with a minimum per order),
slippage and the invested fraction, checked, and the backtrader commission scheme they describe.

Slippage is the broker's (a fraction of price, never outside the bar's range); see engine.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from strategies.commission import StockCommission



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
