"""conf/distribution: which baselines stand beside the network's distributions, with what settings."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from forecasting.distribution.base import DistributionMethod
from forecasting.distribution.baselines import BASELINES, build_baselines


@dataclass
class DistributionSettings:
    """The distribution outputs' settings (conf/distribution/default.yaml holds the defaults)."""

    bounds: ClassVar[dict[str, str]] = {"enabled": "bool", "historical_window": "int >= 2",
                                        "ewma_lambda": "0 < number < 1"}

    enabled: bool
    baselines: Sequence[str]
    historical_window: int
    ewma_lambda: float

    def problems(self) -> list[str]:
        """What is wrong with `baselines` (a list, which the bounds cannot describe)."""
        return [f"unknown distribution baseline {name!r}" for name in self.baselines
                if name not in BASELINES]

    def build(self) -> dict[str, DistributionMethod]:
        """Fresh baseline objects by name, in the order configured."""
        return build_baselines(list(self.baselines), self.historical_window, self.ewma_lambda)
