"""conf/distribution: which baselines stand beside the network's distributions, with what settings."""
from __future__ import annotations

import importlib
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
                if name not in BASELINES and "." not in str(name)]

    def build(self) -> dict[str, DistributionMethod]:
        """Fresh baseline objects by name, in the order configured (a dotted class path is
        accepted, built without arguments: tests plug in fakes)."""
        shipped = [name for name in self.baselines if "." not in str(name)]
        made = build_baselines(shipped, self.historical_window, self.ewma_lambda)
        out: dict[str, DistributionMethod] = {}
        for name in self.baselines:
            if name in made:
                out[name] = made[name]
            else:
                module, _, cls = str(name).rpartition(".")
                out[cls] = getattr(importlib.import_module(module), cls)()
        return out
