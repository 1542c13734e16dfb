"""Check every setting before any data is loaded or any model is built.

A bad value should cost the user a second, not the minutes of training that would run before the
code that uses it notices. The checks are a table of rules (key pattern -> check -> what is valid),
applied only to keys the config actually has, so new groups and strategy parameters (the `risk`
group, `strategy.threshold`, `strategy.fast` ...) are checked as soon as they exist, and settings
no rule knows pass untouched. Cross-field rules (start before end, exit below entry) follow.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

from backtests.data.symbols import check_ticker
from backtests.errors import UserError

log = logging.getLogger(__name__)

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


_FRACTION_OFF = "a fraction between 0 and 1 (exclusive), or null to switch it off"
_RISK = r"risk\."

RULES: tuple[Rule, ...] = (
    Rule(r"seed", whole(0), "a whole number >= 0", "42"),
    Rule(r"data\.(start|end)", date, "a date (YYYY-MM-DD) or null", "2015-01-01", nullable=True),
    Rule(r"data\.bars", whole(2), "a whole number of bars >= 2", "2520"),
    Rule(r"data\.(max_age_hours|backoff_seconds|jump_scale)", number(0), "a number >= 0", "1"),
    Rule(r"data\.retries", whole(0), "a whole number >= 0", "2"),
    Rule(r"data\.(initial_price|annual_vol)", number(0, low_open=True), "a number > 0", "0.2"),
    Rule(r"data\.annual_drift", number(), "a number", "0.08"),
    Rule(r"data\.(vol_persistence|vol_reaction)", number(0, 1, high_open=True),
         "a number from 0 to below 1", "0.05"),
    Rule(r"data\.jump_prob", number(0, 1), "a probability from 0 to 1", "0.01"),
    Rule(r"features\.columns\.[^.]+\.(window|period|fast|slow|signal)", whole(1),
         "a whole number of bars >= 1", "20"),
    Rule(r"forecaster\.(window|units|layers|epochs|batch_size)", whole(1),
         "a whole number >= 1", "30"),
    Rule(r"forecaster\.(warm_epochs|patience)", whole(0), "a whole number >= 0", "2"),
    Rule(r"forecaster\.dropout", number(0, 1, high_open=True), "a fraction from 0 to below 1", "0.1"),
    Rule(r"forecaster\.learning_rate", number(0, low_open=True), "a number > 0", "0.001"),
    Rule(r"forecaster\.alpha", number(0), "a number >= 0", "10"),
    Rule(r"walkforward\.mode", one_of("expanding", "sliding"), "expanding or sliding", "expanding"),
    Rule(r"walkforward\.(initial_train|retrain_every|gap)", whole(1), "a whole number >= 1", "21"),
    Rule(r"walkforward\.val_fraction", number(0, 1, high_open=True),
         "a fraction from 0 to below 1", "0.1"),
    Rule(r"walkforward\.(warm_start|warm_validation)", boolean, "true or false", "true"),
    Rule(r"strategy\.(entry|exit)", number(), "a number (a daily log return)", "0.0005"),
    Rule(r"strategy\.threshold", number(0), "a number >= 0 (a daily log return)", "0.0005"),
    Rule(r"strategy\.(fast|slow)", whole(1), "a whole number of bars >= 1", "50"),
    Rule(r"strategy\.confirm_sma", whole(1), "a whole number of bars >= 1, or null", "50",
         nullable=True),
    Rule(r"strategy\.min_hold", whole(0), "a whole number of bars >= 0", "5"),
    Rule(_RISK + r"(stop_loss|trailing_stop|max_drawdown)", number(0, 1, True, True),
         _FRACTION_OFF, "0.05", nullable=True),
    Rule(_RISK + r"(take_profit|atr_stop|vol_target)", number(0, low_open=True),
         "a number > 0, or null to switch it off", "0.1", nullable=True),
    Rule(_RISK + r"max_position", number(0, 1, low_open=True),
         "a fraction above 0 and up to 1, or null", "0.5", nullable=True),
    Rule(_RISK + r"(atr_period|cooldown_days)", whole(1), "a whole number of bars >= 1", "14"),
    Rule(_RISK + r"vol_lookback", whole(2), "a whole number of bars >= 2", "20"),
    Rule(r"broker\.cash", number(0, low_open=True), "an amount > 0", "100000"),
    Rule(r"broker\.(commission|slippage)", number(0, 1, high_open=True),
         "a fraction from 0 to below 1 (0.001 = 10 bps)", "0.001"),
    Rule(r"broker\.(per_share|min_commission)", number(0), "an amount >= 0", "0.005"),
    Rule(r"broker\.invest_fraction", number(0, 1, low_open=True),
         "a fraction above 0 and up to 1", "0.99"),
    Rule(r"broker\.commission_type", one_of("fraction", "per_share"), "fraction or per_share",
         "fraction"),
    Rule(r"report\.(tearsheet|plots)", boolean, "true or false", "false"),
    Rule(r"report\.periods_per_year", whole(1), "a whole number >= 1", "252"),
    Rule(r"mode\.cutoffs", whole(1), "a whole number >= 1", "3"),
    Rule(r"mode\.atol", number(0), "a number >= 0", "0.0"),
    Rule(r"mode\.reset|ledger\.enabled", boolean, "true or false", "true"),
    Rule(r"ledger\.journal_mode", one_of("wal", "delete", "truncate", "persist"),
         "wal (one host), or delete on a network filesystem", "wal"),
)

_MISSING_HINTS = {
    "data.path": "data=csv needs data.path=FILE.csv, or a folder holding <TICKER>.csv",
}

_COMPILED = [(re.compile(rule.pattern), rule) for rule in RULES]
_CHOICE = re.compile(r"(?!.*\.\.)[\w-][\w./-]*")  # plain config names: no HTML specials, no ..


def validate(cfg: DictConfig) -> None:
    """Raise a UserError naming the first invalid setting; cheap, imports nothing heavy."""
    values = dict(_leaves(cfg))
    if "ticker" in values:
        check_ticker(values["ticker"])
    for key, value in values.items():
        rule = next((r for pattern, r in _COMPILED if pattern.fullmatch(key)), None)
        if rule is None or (value is None and rule.nullable) or rule.check(value):
            continue
        raise UserError(f"{key}={_show(value)} is not valid: it must be {rule.wants}",
                        f"e.g. {key}={rule.example}")
    _check_pairs(values)
    _check_choices(cfg)


def _leaves(node: DictConfig, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, resolved value) for every leaf except Hydra's own and runtime-only ones."""
    raws = OmegaConf.to_container(node, resolve=False)
    assert isinstance(raws, dict)
    for key in node.keys():
        full = f"{prefix}{key}"
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
    from hydra.core.hydra_config import HydraConfig

    choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None)
    if choices is None and HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
    for group, choice in (choices or {}).items():
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
