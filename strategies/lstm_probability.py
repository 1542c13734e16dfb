"""Trade the forecast distribution: take a side when a rise (or a fall) over h sessions is likely
enough, sized by a capped Kelly fraction of the forecast's mean over its variance."""
from __future__ import annotations

import math

from strategies.base import RiskManagedStrategy
from strategies.feeds import DistributionData


def variance(scale: float, df: float) -> float:
    """Variance of a location-scale Student-t: scale^2 * df / (df - 2); scale^2 when df is inf
    (Gaussian); inf when df <= 2 (no finite variance: no Kelly bet)."""
    if math.isinf(df):
        return scale * scale
    return scale * scale * df / (df - 2) if df > 2 else math.inf


def kelly_fraction(side: int, mean: float, scale: float, df: float, kelly_scale: float,
                   max_fraction: float) -> float:
    """clip(kelly_scale * side * mean / variance, 0, max_fraction): the part of equity a bet on
    `side` (1 long, -1 short) takes; 0 when the mean is on the other side."""
    var = variance(scale, df)
    if not (var > 0 and math.isfinite(var)):
        return 0.0
    return min(max(kelly_scale * side * mean / var, 0.0), max_fraction)


class LSTMProbability(RiskManagedStrategy):
    """Long/flat (or long/short) on P(up) of the h-session forecast carried by the feed's `p_up`,
    `mean`, `scale`, `df` lines (strategies/feeds.py DistributionData, for h = `horizon`).

    Buy logic: P(up) > `threshold`. Sell logic: P(up) <= `threshold` closes a long; with
    `allow_short`, P(up) < 1 - `threshold` sells short (and a short is covered once P(up) is
    back at 1 - `threshold` or above). Size: the Kelly fraction f = clip(kelly_scale * mean /
    variance, 0, max_fraction) of a full position (the sizer's invest_fraction of equity, then the
    risk rules' max_position and vol_target caps), -mean for a short.
    Modes: `hold` decides when flat, then holds h sessions after the entry (the forecast's span)
    and decides again at the close h sessions in: the same side keeps the position, resized to the
    new Kelly fraction (a new h-session hold starts), otherwise it exits or reverses. `daily`
    decides at every close on the h-session forecast and resizes the position whenever the Kelly
    fraction changes. Stops and the breaker act whenever they fire, hold or not.
    Params: horizon, threshold, allow_short, kelly_scale, max_fraction, mode, plus start and risk.
    """

    feed = DistributionData  # the engine feeds the bars through it: p_up, mean, scale, df lines
    bounds = {"horizon": "int >= 1", "threshold": "0.5 <= number < 1", "allow_short": "bool",
              "kelly_scale": "number > 0", "max_fraction": "0 < number <= 1",
              "mode": "one of: hold, daily"}
    params = (
        ("horizon", 5),         # h: sessions the forecast spans (one of forecaster.horizons)
        ("threshold", 0.55),    # long when P(up) > threshold; short when P(up) < 1 - threshold
        ("allow_short", False),  # True: take the short side too
        ("kelly_scale", 0.5),   # multiple of the full Kelly fraction mean / variance (0.5 = half)
        ("max_fraction", 1.0),  # cap on the fraction of a full position
        ("mode", "hold"),       # hold: h sessions per bet; daily: re-decide and resize every close
    )

    def __init__(self) -> None:
        super().__init__()
        missing = [line for line in ("p_up", "mean", "scale", "df") if not hasattr(self.data.lines, line)]
        if missing:
            raise ValueError(f"lstm_probability needs the feed lines {', '.join(missing)}: feed the "
                             "bars through strategies.feeds.DistributionData (LSTMProbability.feed)")
        self._matures = 0  # in hold mode, the bar whose close ends the current bet

    def side(self, p_up: float) -> int:
        if p_up > self.p.threshold:
            return 1
        if self.p.allow_short and p_up < 1 - self.p.threshold:
            return -1
        return 0

    def why(self) -> str:
        d = self.data
        side = self.side(d.p_up[0])
        text = (f"P(up over {self.p.horizon} sessions) {d.p_up[0]:.3f} against threshold "
                f"{self.p.threshold:.3f}; mean {100 * d.mean[0]:+.3f}%, scale {100 * d.scale[0]:.3f}%, "
                f"df {d.df[0]:g}")
        if side:
            f = kelly_fraction(side, d.mean[0], d.scale[0], d.df[0], self.p.kelly_scale,
                               self.p.max_fraction)
            text += f"; Kelly fraction {f:.3f} (cap {self.p.max_fraction:g})"
        if self.p.mode == "hold" and self.direction and len(self) < self._matures:
            text += f"; holding, {self._matures - len(self)} of {self.p.horizon} sessions left"
        return text

    def target(self) -> int | None:
        d = self.data
        p_up, mean, scale, df = (float(d.p_up[0]), float(d.mean[0]), float(d.scale[0]),
                                 float(d.df[0]))
        if any(math.isnan(x) for x in (p_up, mean, scale, df)):
            return None
        if self.p.mode == "hold" and self.direction and len(self) < self._matures:
            return None  # the bet placed h sessions' forecast ago has not matured
        side = self.side(p_up)
        fraction = (kelly_fraction(side, mean, scale, df, self.p.kelly_scale, self.p.max_fraction)
                    if side else 0.0)
        if fraction <= 0:
            return 0
        self.size_scale = fraction
        self._matures = len(self) + int(self.p.horizon)
        return side
