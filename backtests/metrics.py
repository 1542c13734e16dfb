"""Strategy figures computed directly from daily simple returns (so tests can check them by hand).

QuantStats draws the tearsheet; the numbers in metrics.json come from here, from the same returns
that returns.csv holds.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd


def performance(returns: pd.Series, periods_per_year: int = 252) -> dict[str, float]:
    """Total return, CAGR, Sharpe, Sortino, max drawdown and volatility of daily returns."""
    r = returns.to_numpy(dtype=np.float64)
    n = len(r)
    growth = np.cumprod(1 + r)
    total = float(growth[-1] - 1) if n else 0.0
    years = n / periods_per_year
    std = float(np.std(r, ddof=1)) if n > 1 else math.nan
    downside = float(np.sqrt(np.mean(np.minimum(r, 0) ** 2))) if n else math.nan
    mean = float(np.mean(r)) if n else math.nan
    peak = np.maximum.accumulate(np.concatenate([[1.0], growth]))
    drawdown = np.concatenate([[1.0], growth]) / peak - 1
    return {
        "total_return": total,
        "cagr": (1 + total) ** (1 / years) - 1 if years > 0 and total > -1 else math.nan,
        "sharpe": mean / std * math.sqrt(periods_per_year) if std and std > 0 else math.nan,
        "sortino": mean / downside * math.sqrt(periods_per_year) if downside > 0 else math.nan,
        "max_drawdown": float(drawdown.min()),
        "volatility": std * math.sqrt(periods_per_year) if n > 1 else math.nan,
    }


def trade_stats(trades: pd.DataFrame, in_market: pd.Series) -> dict[str, float]:
    """Exposure (share of closes holding a position) and the closed-trade count."""
    return {
        "exposure": float(in_market.mean()) if len(in_market) else 0.0,
        "trades": int(len(trades)),
    }
