"""A single-ticker strategy's decision at a close in words: what to do at the next open, and why.

Read by mode=predict and by the forecast journal (an entry says what the strategy decided).
"""
from __future__ import annotations

from typing import Any

SIDES = {1: "long", 0: "flat", -1: "short"}
ACTIONS = {  # (position now, position wanted) -> what to do at the next open
    (0, 0): "stay flat", (1, 1): "hold the long", (-1, -1): "hold the short",
    (0, 1): "buy (open a long)", (0, -1): "sell short (open a short)",
    (1, 0): "sell (close the long)", (-1, 0): "buy to cover (close the short)",
    (1, -1): "sell the long and sell short", (-1, 1): "buy to cover and buy a long",
}


def action_text(decision: dict[str, Any], rules: Any) -> str:
    """The decision in words: what to do at the next open, why, and where the protection sits."""
    now, wanted = decision["position"], decision["target"]
    text = ACTIONS[(now, wanted)]
    reason = decision["reason"]
    if reason not in ("signal", "no change"):
        text += f" ({reason.replace('_', ' ')})"
    if decision["why"]:
        text += f": {decision['why']}"
    if decision["breaker_blocked"]:
        text += "; the drawdown breaker keeps the strategy out for now"
    if wanted == now and now != 0:
        if decision["stop"] is not None:
            rule = (decision["stop_rule"] or "stop").replace("_", " ")
            text += f"; protective stop working at {decision['stop']:.2f} ({rule})"
        if decision["take_profit"] is not None:
            text += f"; take-profit at {decision['take_profit']:.2f}"
    elif wanted != 0 and rules is not None and (rules.has_stop or rules.take_profit is not None):
        text += "; its stops are placed from the price the order fills at"
    return text
