"""Each setting's bound lives with the component that uses it, as one line of data; this reads it.

A component (a forecaster, the walk-forward, a strategy, the risk rules, the broker, a feature, a
price source) declares `bounds = {"param": "SPEC", ...}` as class data, so forecasting/ and
strategies/ need import nothing to state them. `check` runs a spec against a value before any data
is read or TensorFlow imported (backtests/settings/validate.py); the message and the example in its
hint come from the spec and the default (a strategy's params, else the chosen conf/ option), so they
cannot drift apart.

A SPEC is one of (a trailing ` | null` lets null switch the setting off):
    "int >= 1"   "number > 0"   "number"   "0 <= number < 1"   "0 < number <= 1"   "bool"
    "date"   "one of: expanding, sliding"
"""
from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

_SIDE = r"(-?[\d.]+|-?inf)"
_RANGE = re.compile(rf"^{_SIDE} (<=|<) (number|int) (<=|<) {_SIDE}$")
_ONE_SIDED = re.compile(rf"^(number|int)(?: (>=|>) {_SIDE})?$")


@dataclass(frozen=True)
class Bound:
    """A parsed spec: what the value must be, in a sentence, and the test."""

    kind: str                 # number, int, bool, date, choice
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "date":
            try:
                pd.Timestamp(str(value))
            except (ValueError, TypeError):
                return False
            return True
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    @property
    def wants(self) -> str:
        off = ", or null to switch it off" if self.nullable else ""
        if self.kind == "bool":
            return "true or false" + off
        if self.kind == "date":
            return "a date (YYYY-MM-DD)" + (", or null" if self.nullable else "")
        if self.kind == "choice":
            return f"one of: {', '.join(self.choices)}" + off
        noun = "a whole number" if self.kind == "int" else "a number"
        low, high = _show(self.low), _show(self.high)
        if math.isinf(self.high) and math.isinf(self.low):
            return noun + off
        if math.isinf(self.high):
            return f"{noun} {'>' if self.low_open else '>='} {low}" + off
        if self.low_open and self.high_open:
            text = f"between {low} and {high} (exclusive)"
        elif self.low_open:
            text = f"above {low} and up to {high}"
        elif self.high_open:
            text = f"from {low} to below {high}"
        else:
            text = f"from {low} to {high}"
        return f"{noun} {text}" + off

    def example(self, default: Any) -> Any:
        """The component's default when it is valid and set, else a value inside the bound."""
        if default is not None and self.accepts(default):
            return default
        if self.kind == "choice":
            return self.choices[0]
        if self.kind in ("bool", "date"):
            return {"bool": "true", "date": "2015-01-01"}[self.kind]
        low = 0.0 if math.isinf(self.low) else self.low
        guess = low + 1 if math.isinf(self.high) else (low + self.high) / 2
        return int(math.ceil(guess)) if self.kind == "int" else guess


def parse(spec: str) -> Bound:
    """The Bound a SPEC describes (a malformed SPEC is a bug in the component: ValueError)."""
    text, nullable = spec.strip(), False
    if text.endswith("| null"):
        text, nullable = text[:-len("| null")].strip(), True
    if text in ("bool", "date"):
        return Bound(text, nullable=nullable)
    if text.startswith("one of:"):
        choices = tuple(c.strip() for c in text[len("one of:"):].split(","))
        return Bound("choice", choices=choices, nullable=nullable)
    if found := _RANGE.match(text):
        low, low_op, kind, high_op, high = found.groups()
        return Bound(kind, float(low), float(high), low_op == "<", high_op == "<", nullable=nullable)
    if found := _ONE_SIDED.match(text):
        kind, op, low = found.groups()
        return Bound(kind, float(low) if low else -math.inf, low_open=op == ">", nullable=nullable)
    raise ValueError(f"malformed bound {spec!r}")


def bounds_of(target: type | Any) -> dict[str, Bound]:
    """The parsed bounds a class (or a function) declares; none when it declares none."""
    return {name: parse(spec) for name, spec in (getattr(target, "bounds", None) or {}).items()}


def default_of(target: Any, name: str) -> Any:
    """A parameter's default: backtrader params, a dataclass field or a constructor argument."""
    params = getattr(target, "params", None)
    if params is not None and hasattr(params, "_getkwargsdefault"):
        return dict(params._getkwargsdefault()).get(name)
    try:
        parameter = inspect.signature(target).parameters.get(name)
    except (TypeError, ValueError):
        return None
    return None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"
