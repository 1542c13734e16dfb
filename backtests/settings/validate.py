"""Check every setting before any data is loaded or any model is built.

A bad value should cost the user a second, not the minutes of training that would run before the
code that uses it notices. A component's settings are checked against the bounds its `_target_`
class declares (settings/bounds.py: the one home of each bound); the few settings no class owns
(the top level, report, mode) against a table of rules here. Only keys the config actually
has are checked, so new strategy parameters are covered as soon as their class declares them; a
key its component does not take at all is refused (settings/keys.py). Rules that span keys (start
before end, exit below entry, fast below slow) follow, then settings that contradict each other
(settings/combinations.py).
"""
from __future__ import annotations

import functools
import importlib.util
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import get_class
from omegaconf import DictConfig, ListConfig, OmegaConf

from backtests.data.csv import check_file_ticker
from backtests.data.symbols import check_ticker
from backtests.errors import UserError
from backtests.settings.bounds import Bound, bounds_of, default_of
from backtests.settings.combinations import check_combinations
from backtests.settings.defaults import chosen_default, run_choices
from backtests.settings.keys import LAST, check_keys

Check = Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole(low: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def number(low: float = -math.inf, high: float = math.inf, low_open: bool = False,
           high_open: bool = False) -> Check:
    def check(v: Any) -> bool:
        if not _is_number(v):
            return False
        above = v > low if low_open else v >= low
        below = v < high if high_open else v <= high
        return above and below
    return check


def one_of(*choices: Any) -> Check:
    return lambda v: v in choices


def boolean(v: Any) -> bool:
    return isinstance(v, bool)


def date(v: Any) -> bool:
    try:
        pd.Timestamp(str(v))
    except (ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Rule:
    """`pattern` is a regular expression over the dotted key (whole key must match)."""

    pattern: str
    check: Check
    wants: str
    example: str
    nullable: bool = False  # None switches the setting off


# Settings that belong to no component class: the top level, the report and the modes.
# Every other bound is declared by the component that uses it (`bounds`, settings/bounds.py).
RULES: tuple[Rule, ...] = (
    Rule(r"seed", whole(0), "a whole number >= 0", "42"),
    Rule(r"workers", whole(0), "a whole number >= 0 (0: no process beside the run's own)", "1"),
    Rule(r"report\.(tearsheet|plots)", boolean, "true or false", "false"),
    Rule(r"report\.explain", boolean, "true, false or null (on for a single run, off for a universe)",
         "false", nullable=True),
    Rule(r"report\.periods_per_year", whole(1), "a whole number >= 1", "252"),
    Rule(r"mode\.(start|end)", date, "a date (YYYY-MM-DD) or null", "2015-01-01", nullable=True),
    Rule(r"mode\.cutoffs", whole(1), "a whole number >= 1", "3"),
    Rule(r"mode\.atol", number(0), "a number >= 0", "0.0"),
    Rule(r"mode\.reset|ledger\.enabled|journal\.enabled", boolean, "true or false", "true"),
    Rule(r"journal\.lock_timeout_s", number(0), "a number of seconds >= 0", "600"),
    Rule(r"ledger\.journal_mode", one_of("wal", "delete", "truncate", "persist"),
         "wal (one host), or delete on a network filesystem", "wal"),
)
# Groups whose settings are bounded by their `_target_` class.
OWNED = ("data", "explain", "features", "forecaster", "walkforward", "strategy", "risk", "broker",
         "risk_model", "universe", "sentiment")

_MISSING_HINTS = {
    "data.path": "data=csv needs data.path=FILE.csv, or a folder holding <TICKER>.csv",
}

_COMPILED = [(re.compile(rule.pattern), rule) for rule in RULES]
_CHOICE = re.compile(r"(?!.*\.\.)[\w-][\w./-]*")  # plain config names: no HTML specials, no ..


def validate(cfg: DictConfig) -> None:
    """Raise a UserError naming the first invalid setting; cheap, imports nothing heavy."""
    values = dict(_leaves(cfg))
    check_keys(cfg)  # a key no component takes (added with +, or leaked from conf/local)
    if "ticker" in values:
        check_ticker(values["ticker"])
        if values.get("data.path"):
            check_file_ticker(values["ticker"], Path(str(values["data.path"])).expanduser())
    for key, value in values.items():
        owned = _component_bound(cfg, key)
        if owned is not None:
            bound, default = owned
            if not bound.accepts(value):
                raise UserError(f"{key}={_show(value)} is not valid: it must be {bound.wants}",
                                f"e.g. {key}={_show(bound.example(default))}")
            continue
        rule = next((r for pattern, r in _COMPILED if pattern.fullmatch(key)), None)
        if rule is None or (value is None and rule.nullable) or rule.check(value):
            continue
        raise UserError(f"{key}={_show(value)} is not valid: it must be {rule.wants}",
                        f"e.g. {key}={rule.example}")
    _check_pairs(values)
    _check_extras(cfg)
    target = OmegaConf.select(cfg, "strategy._target_", default=None)
    check_combinations(cfg, _component(target) if isinstance(target, str) else None)
    _check_choices(cfg)
    check_keys(cfg, LAST)  # the modes' modules are slow to import: only once all else passed


def _check_extras(cfg: DictConfig) -> None:
    """Refuse a forecaster whose optional package is not installed (its class's `requires`:
    the package and the pyproject extra that brings it), before any data is read."""
    target = OmegaConf.select(cfg, "forecaster._target_", default=None)
    component = _component(target) if isinstance(target, str) else None
    package, extra = getattr(component, "requires", (None, None))
    if package is not None and importlib.util.find_spec(package) is None:
        name = str(target).rpartition(".")[2]
        raise UserError(f"{name} needs the {package} package, which is not installed",
                        f'pip install -c constraints.txt -e ".[{extra}]"')


def _component_bound(cfg: DictConfig, key: str) -> tuple[Bound, Any] | None:
    """The bound the component behind `key` declares for it, with its default; None if none."""
    parent, _, name = key.rpartition(".")
    if not parent or parent.split(".")[0] not in OWNED:
        return None
    target = OmegaConf.select(cfg, f"{parent}._target_", default=None)
    if not isinstance(target, str):
        return None
    component = _component(target)
    bound = bounds_of(component).get(name) if component is not None else None
    if bound is None:
        return None
    default = default_of(component, name)  # a strategy's params; the rest keep theirs in conf/
    return bound, default if default is not None else chosen_default(cfg, key)


@functools.cache
def _component(target: str) -> Any:
    """The class a `_target_` names (its module imports nothing heavy), None if it does not import."""
    try:
        return get_class(target)
    except Exception:  # Hydra wraps import failures; instantiation reports them properly later
        return None


def _leaves(node: DictConfig, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, resolved value) for every leaf except Hydra's own and runtime-only ones."""
    raws = OmegaConf.to_container(node, resolve=False)
    assert isinstance(raws, dict)
    for key in node.keys():
        full = f"{prefix}{key!s}"
        if full == "hydra":
            continue
        if OmegaConf.is_missing(node, key):
            hint = _MISSING_HINTS.get(full, f"add {full}=... (the {full.split('.')[0]} option you "
                                            "chose needs it)")
            raise UserError(f"{full} is not set", hint)
        raw = raws[key]
        if isinstance(raw, str) and "${hydra:" in raw:
            continue  # only known inside a Hydra run (e.g. paths.output_dir)
        try:
            value = node[key]
        except Exception as exc:  # OmegaConf wraps resolution failures in several types
            raise UserError(f"{full}={raw!r} cannot be resolved ({str(exc).splitlines()[0]})",
                            "check the ${...} references in that setting") from exc
        if isinstance(value, DictConfig):
            yield from _leaves(value, f"{full}.")
        elif not isinstance(value, ListConfig):
            yield full, value


def _check_pairs(values: dict[str, Any]) -> None:
    start, end = values.get("data.start"), values.get("data.end")
    if start is not None and end is not None and pd.Timestamp(str(start)) >= pd.Timestamp(str(end)):
        raise UserError(f"data.start={start} is not before data.end={end}",
                        "give a start date earlier than the end date")
    _ordered(values, "strategy.exit", "strategy.entry", strict=False,
             why="a position would open and close on the same forecast")
    _ordered(values, "strategy.fast", "strategy.slow", strict=True, why="fast must be the shorter mean")
    for key in values:
        if key.startswith("features.columns.") and key.endswith(".fast"):
            _ordered(values, key, key[:-len("fast")] + "slow", strict=True,
                     why="fast must be the shorter mean")
    persistence, reaction = values.get("data.vol_persistence"), values.get("data.vol_reaction")
    if persistence is not None and reaction is not None and persistence + reaction >= 1:
        raise UserError(f"data.vol_persistence + data.vol_reaction = {persistence + reaction:g} "
                        "must be below 1 (volatility would explode)",
                        "e.g. data.vol_persistence=0.94 data.vol_reaction=0.05")


def _ordered(values: dict[str, Any], low: str, high: str, strict: bool, why: str) -> None:
    a, b = values.get(low), values.get(high)
    if a is None or b is None or (a < b if strict else a <= b):
        return
    relation = "below" if strict else "at most"
    raise UserError(f"{low}={_show(a)} must be {relation} {high}={_show(b)}: {why}",
                    f"lower {low} or raise {high}")


def _check_choices(cfg: DictConfig) -> None:
    """Group choices name folders and appear in reports: refuse anything but plain names."""
    for group, choice in (run_choices(cfg) or {}).items():
        if choice is not None and not group.startswith("hydra/") and not _CHOICE.fullmatch(choice):
            raise UserError(f"{group}={choice!r} is not a plain config name",
                            f"use a config name from conf/{group}/ (letters, digits, _ . / -; no '..')")


def _show(value: Any) -> str:
    """A value as the user would type it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)
