"""The portfolio rules of `RiskRules`, as arithmetic on target weights (signed fractions of equity).

Order of application: raw weights -> regime scale -> max_weight -> vol_target -> max_gross / max_net.
Every cap only ever shrinks weights; what it removes stays in cash (nothing is redistributed), so a
rule never adds exposure the strategy did not ask for.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from strategies.risk import TRADING_DAYS, RiskRules

log = logging.getLogger(__name__)

Weights = dict[str, float]


def apply_rules(raw: Mapping[str, float], rules: RiskRules, scale: float = 1.0,
                closes: pd.DataFrame | None = None,
                forecast_vols: Mapping[str, float] | None = None) -> Weights:
    """Target weights after the regime `scale` and the portfolio rules.

    `closes` is a date x ticker frame of closes ending at the decision close (for vol_target);
    `forecast_vols` the daily volatility forecasts made at that close (vol_source: forecast).
    """
    weights = {name: w * scale for name, w in raw.items() if w != 0 and math.isfinite(w)}
    if rules.max_weight is not None:
        cap = rules.max_weight
        weights = {name: max(-cap, min(cap, w)) for name, w in weights.items()}
    if rules.vol_target is not None:
        weights = vol_targeted(weights, rules, closes, forecast_vols or {})
    if rules.max_gross is not None:
        gross = sum(abs(w) for w in weights.values())
        if gross > rules.max_gross:
            weights = {name: w * rules.max_gross / gross for name, w in weights.items()}
    if rules.max_net is not None:
        weights = net_capped(weights, rules.max_net)
    return {name: w for name, w in weights.items() if w != 0}


def net_capped(weights: Weights, cap: float) -> Weights:
    """Scale the larger side down until |sum of weights| <= cap."""
    longs = sum(w for w in weights.values() if w > 0)
    shorts = sum(w for w in weights.values() if w < 0)
    net = longs + shorts
    if abs(net) <= cap:
        return weights
    if net > 0:  # longs L' with L' + shorts = cap
        factor, side = (cap - shorts) / longs, 1
    else:
        factor, side = (-cap - longs) / shorts, -1
    return {name: w * factor if w * side > 0 else w for name, w in weights.items()}


def trailing_returns(closes: pd.DataFrame | None, names: list[str], lookback: int) -> pd.DataFrame:
    """The last `lookback` daily log returns of `names` (columns with a gap in the window dropped)."""
    if closes is None or not names:
        return pd.DataFrame()
    window = closes.reindex(columns=names).iloc[-(lookback + 1):]
    if len(window) < lookback + 1:
        return pd.DataFrame()
    returns = np.log(window.astype("float64")).diff().iloc[1:]
    return returns.loc[:, returns.notna().all() & (window > 0).all()]


def predicted_vol(weights: Weights, returns: pd.DataFrame, forecast_vols: Mapping[str, float],
                  source: str) -> float:
    """Annualised volatility of the weighted portfolio: sqrt(w' S w) * sqrt(252).

    S is the sample covariance of `returns`, or with source "forecast" D R D: the forecast daily
    volatilities D around the trailing correlation R (a constant series correlates with nothing).
    """
    names = list(weights)
    w = np.array([weights[n] for n in names])
    if source == "forecast":
        corr = returns[names].corr().to_numpy()
        corr = np.where(np.isfinite(corr), corr, 0.0)
        np.fill_diagonal(corr, 1.0)
        d = np.diag([forecast_vols[n] for n in names])
        cov = d @ corr @ d
    else:
        cov = returns[names].cov(ddof=1).to_numpy()
    return float(math.sqrt(max(float(w @ cov @ w), 0.0)) * math.sqrt(TRADING_DAYS))


def vol_targeted(weights: Weights, rules: RiskRules, closes: pd.DataFrame | None,
                 forecast_vols: Mapping[str, float]) -> Weights:
    """Weights scaled by min(1, vol_target / predicted portfolio volatility).

    A name without `vol_lookback` returns in the window (or, with forecasts, without a finite
    forecast) gets no weight: no position rather than a guess, as for a single ticker.
    """
    assert rules.vol_target is not None
    returns = trailing_returns(closes, list(weights), rules.vol_lookback)
    known = {n: w for n, w in weights.items() if n in returns.columns}
    if rules.vol_source == "forecast":
        known = {n: w for n, w in known.items() if math.isfinite(forecast_vols.get(n, math.nan))}
    if len(known) < len(weights):
        log.debug("vol_target: no volatility for %s, not held", sorted(set(weights) - set(known)))
    if not known:
        return {}
    vol = predicted_vol(known, returns, forecast_vols, rules.vol_source)
    scale = min(1.0, rules.vol_target / vol) if vol > 0 else 1.0
    return {n: w * scale for n, w in known.items()}
