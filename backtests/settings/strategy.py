"""The `strategy` group: a backtrader strategy class by `_target_` plus its params, checked.
Single-ticker strategies (RiskManagedStrategy) and portfolio ones (PortfolioStrategy) both qualify;
`is_portfolio` tells the run which engine a class needs.

backtrader builds strategies itself inside Cerebro, so the class is resolved with
`hydra.utils.get_class` rather than instantiated; its params must match the config one to one.
"""
from __future__ import annotations

import difflib
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from backtests.errors import UserError
from backtests.settings.keys import ENGINE_PARAMS
from strategies.base import RiskManagedStrategy
from strategies.portfolio.base import PortfolioStrategy

_RESERVED = ENGINE_PARAMS  # set by the engine from other groups, not by strategy.*

StrategyClass = type[RiskManagedStrategy] | type[PortfolioStrategy]


def is_portfolio(cls: type) -> bool:
    """True for a strategy that trades a universe (one feed per ticker), not a single ticker."""
    return isinstance(cls, type) and issubclass(cls, PortfolioStrategy)


def strategy_class_and_params(section: DictConfig) -> tuple[StrategyClass, dict[str, Any]]:
    """Return (class, params); unknown param names fail with the closest valid one."""
    resolved = OmegaConf.to_container(section, resolve=True)
    assert isinstance(resolved, dict)
    settings = {str(key): value for key, value in resolved.items()}
    target = settings.pop("_target_", None)
    if not target:
        raise UserError("the strategy config has no _target_", "pick one with strategy=NAME")
    try:
        cls = get_class(str(target))
    except Exception as exc:  # hydra wraps import errors in its own types
        raise UserError(f"strategy class {target!r} cannot be imported ({exc})",
                        "check strategy._target_") from exc
    if not (isinstance(cls, type) and issubclass(cls, (RiskManagedStrategy, PortfolioStrategy))):
        raise UserError(f"strategy class {target!r} is not a strategy of this project",
                        "strategy._target_ must name a strategies.base.RiskManagedStrategy or a "
                        "strategies.portfolio.base.PortfolioStrategy subclass")
    known = [name for name in cls.params._getkeys() if name not in _RESERVED]
    for name in settings:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean strategy.{close[0]}?" if close else f"valid: {', '.join(known) or 'none'}"
            raise UserError(f"strategy {cls.__name__} has no parameter {name!r}", hint)
    return cls, settings
