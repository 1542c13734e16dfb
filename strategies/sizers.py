"""Position sizing: how many shares a full position is, computed at the price the order trades at."""
from __future__ import annotations

import math
from typing import Any

import backtrader as bt

from strategies.risk import TRADING_DAYS, RiskRules, given_rules


class EquityFractionSizer(bt.Sizer):
    """Buys (or sells short) a fraction of equity at the next open.

    The fraction is `fraction` times the strategy's `size_scale` (1 unless the strategy sizes its
    own positions, as lstm_probability's Kelly fraction does), capped by the risk rules'
    `max_position` and, with `vol_target`, scaled so the position's volatility (realised volatility
    of the stock over `vol_lookback` closes up to the decision close, or with `vol_source: forecast`
    the feed's `volatility` forecast made at that close) matches the target. Sized at entry, and
    again only when the strategy changes its `size_scale` (a resize, strategies/base.py).

    Orders are sized in `next_open` (cheat-on-open), where `data.open[0]` is the price the market
    order fills at, so a gap never turns an order into one the broker cancels for lack of cash. The
    broker's slippage and commission (whatever its scheme: fraction, per share, minimum) are priced
    in so the fill always fits in the cash.
    """

    params = (
        ("fraction", 0.99),  # fraction of equity one full position uses (the broker's invest_fraction)
        ("risk", None),      # strategies.risk.RiskRules: max_position and vol_target; None = no caps
    )

    def _getsizing(self, comminfo: Any, cash: float, data: Any, isbuy: bool) -> int:
        rules: RiskRules = given_rules(self.p.risk, type(self).__name__)
        # data.close[0] is this bar's close, not known at the open: volatility ends one bar back.
        past = data.close.get(ago=-1, size=rules.vol_lookback + 1) if rules.vol_target else []
        # The forecast of tomorrow's daily volatility made at the decision close, annualised.
        forecast = (float(data.volatility[-1]) * math.sqrt(TRADING_DAYS)
                    if rules.vol_target and rules.vol_source == "forecast" else None)
        # The strategy may ask for a part of a full position (a Kelly fraction, RiskManagedStrategy).
        scale = getattr(self.strategy, "size_scale", 1.0)
        fraction = rules.position_fraction(self.p.fraction * scale, list(past), forecast)
        slip = self.broker.p.slip_perc or 0.0
        # A new position is only sent once the current one is being closed at this same open (a
        # reversal), so what it may use is the cash left after that close: equity marked at the open.
        held = self.strategy.getposition(data).size
        exit_price = data.open[0] * (1 - slip if held > 0 else 1 + slip)
        cash_after = cash + held * exit_price - (comminfo.getcommission(held, exit_price) if held else 0)
        price = data.open[0] * (1 + slip if isbuy else 1 - slip)
        budget = cash_after * fraction
        if price <= 0 or budget <= 0:
            return 0
        return _largest_affordable(budget, price, comminfo)


def _largest_affordable(budget: float, price: float, comminfo: bt.CommInfoBase) -> int:
    """The most shares whose cost plus commission fits in `budget` (any commission that grows with
    size: a fraction of value, per share, with a minimum), found by bisection."""
    low, high = 0, max(math.floor(budget / price), 0)
    while low < high:
        mid = (low + high + 1) // 2
        if mid * price + comminfo.getcommission(mid, price) <= budget:
            low = mid
        else:
            high = mid - 1
    return low
