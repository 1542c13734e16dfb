"""Risk rules shared by every strategy: where protective orders sit, how big a position is, and when
a drawdown switches trading off. Pure arithmetic here; the orders themselves live in `base.py`.

Every rule is off when its value is None: conf/risk/none.yaml is "no rules". Each setting's default
lives in conf/risk/ only (the class has none); the engine always hands the rules on.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

log = logging.getLogger(__name__)

TRADING_DAYS = 252  # annualises the realised volatility that `vol_target` is compared with


def given_rules(risk: RiskRules | None, who: str) -> RiskRules:
    """The rules the engine passes (the `risk` group); None is a wiring mistake, never "no rules"."""
    if risk is None:
        raise TypeError(f"{who} needs risk=RiskRules(...): the engine passes the risk group's "
                        "(conf/risk/none.yaml has every rule off)")
    return risk


@dataclass(frozen=True, kw_only=True)
class RiskRules:
    """The `risk` config group (conf/risk/*.yaml).

    Fractions are of the entry fill (stops, take-profit) or of equity (position, drawdown); a long
    position's stops sit below the fill and its take-profit above, a short position's the other way.
    """

    stop_loss: float | None     # stop this fraction away from the entry fill
    take_profit: float | None   # limit order this fraction away from the entry fill
    trailing_stop: float | None # stop this fraction behind the best close since entry
    atr_stop: float | None      # stop this many ATRs away from the entry fill
    atr_period: int             # bars in the ATR used by atr_stop
    max_position: float | None  # largest position, as a fraction of equity
    vol_target: float | None    # annualised volatility a new position is sized to
    vol_lookback: int           # daily returns in the realised volatility for vol_target
    max_drawdown: float | None  # flatten when equity is this fraction below its peak
    cooldown_days: int          # bars to stay flat after max_drawdown trips
    vol_source: str             # volatility for vol_target / inverse_vol: realised or forecast
    max_weight: float | None    # portfolio: cap on one name's |weight|; the excess stays cash
    max_gross: float | None     # portfolio: cap on sum |weight| (all weights scaled down)
    max_net: float | None       # portfolio: cap on |sum weight| (the larger side scaled down)

    # Each rule's bound (checked before any data is read: backtests/settings/bounds.py).
    bounds: ClassVar[dict[str, str]] = {
        "stop_loss": "0 < number < 1 | null", "trailing_stop": "0 < number < 1 | null",
        "max_drawdown": "0 < number < 1 | null", "take_profit": "number > 0 | null",
        "atr_stop": "number > 0 | null", "vol_target": "number > 0 | null",
        "max_position": "0 < number <= 1 | null", "atr_period": "int >= 1",
        "cooldown_days": "int >= 1", "vol_lookback": "int >= 2",
        "vol_source": "one of: realised, forecast", "max_weight": "0 < number <= 1 | null",
        "max_gross": "number > 0 | null", "max_net": "number >= 0 | null"}

    @property
    def has_stop(self) -> bool:
        return any(v is not None for v in (self.stop_loss, self.trailing_stop, self.atr_stop))

    def fixed_stops(self, direction: int, fill: float, atr: float | None) -> dict[str, float]:
        """Stop prices that stay where the entry put them, by rule (stop_loss, atr_stop)."""
        levels: dict[str, float] = {}
        if self.stop_loss is not None:
            levels["stop_loss"] = fill * (1 - direction * self.stop_loss)
        if self.atr_stop is not None and atr is not None and math.isfinite(atr):
            levels["atr_stop"] = fill - direction * self.atr_stop * atr
        return levels

    def initial_stop(self, direction: int, fill: float, atr: float | None) -> tuple[float, str] | None:
        """The tightest stop for a position entered at `fill`: (price, rule that sets it)."""
        levels = self.fixed_stops(direction, fill, atr)
        if self.trailing_stop is not None:
            levels["trailing_stop"] = fill * (1 - direction * self.trailing_stop)
        if not levels:
            return None
        pick = max if direction > 0 else min  # a long's tightest stop is the highest one
        rule = pick(levels, key=levels.__getitem__)
        return levels[rule], rule

    def take_profit_price(self, direction: int, fill: float) -> float | None:
        if self.take_profit is None:
            return None
        return fill * (1 + direction * self.take_profit)

    def position_fraction(self, base: float, past_closes: Sequence[float],
                          forecast_vol: float | None = None) -> float:
        """Fraction of equity a new position uses: `base` capped by max_position and vol_target.

        `past_closes` must end at the decision close (never the bar the order fills on), and so must
        `forecast_vol` (annualised), which replaces the realised volatility when vol_source is
        "forecast". With too little history (or no finite forecast) to measure volatility,
        vol_target gives 0: no position rather than a guess.
        """
        fraction = base if self.max_position is None else min(base, self.max_position)
        if self.vol_target is None:
            return fraction
        if self.vol_source == "forecast":
            vol = forecast_vol if forecast_vol is not None and math.isfinite(forecast_vol) else None
        else:
            vol = realised_vol(past_closes, self.vol_lookback)
        if vol is None:
            log.debug("vol_target: no %s volatility at the decision close, no position", self.vol_source)
            return 0.0
        return min(fraction, self.vol_target / vol) if vol > 0 else fraction


def realised_vol(closes: Sequence[float], lookback: int) -> float | None:
    """Annualised standard deviation of the last `lookback` daily log returns, or None if too few."""
    prices = np.asarray(closes, dtype=np.float64)[-(lookback + 1):]
    if len(prices) < lookback + 1 or not np.all(prices > 0):
        return None
    return float(np.std(np.diff(np.log(prices)), ddof=1) * math.sqrt(TRADING_DAYS))


class DrawdownBreaker:
    """Trips when equity falls `limit` below its running peak, then keeps entries off `cooldown` bars.

    It trips whether or not a position is open at that close (a stop may have flattened the loss
    already): either way the strategy sits out. Tripping at the close of bar t flattens at the open
    of t+1; the close of t+cooldown is the first
    that may decide a new entry (filled at the open of t+cooldown+1), so the strategy is out for
    `cooldown` whole bars. The peak restarts from the equity at that close, or the old peak would
    trip the breaker again on the first down day.
    """

    def __init__(self, limit: float, cooldown: int) -> None:
        self.limit = limit
        self.cooldown = int(cooldown)
        self.peak: float | None = None
        self.resume_bar = -1

    def blocked(self, bar: int) -> bool:
        return bar < self.resume_bar

    def update(self, bar: int, equity: float) -> bool:
        """Record the equity at the close of `bar`; True when the breaker trips (flatten, sit out)."""
        if self.blocked(bar):
            return False
        self.peak = equity if self.peak is None else max(self.peak, equity)
        if equity <= self.peak * (1 - self.limit):
            log.debug("drawdown breaker: equity %.2f is %.1f%% below peak %.2f", equity,
                      100 * (1 - equity / self.peak), self.peak)
            self.peak = None
            self.resume_bar = bar + self.cooldown
            return True
        return False
