"""Strategy figures computed directly from daily simple returns (so tests can check them by hand).

QuantStats draws the tearsheet; the numbers in metrics.json come from here, from the same returns
that returns.csv holds.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from strategies.risk import TRADING_DAYS  # the one definition of a trading year


def performance(returns: pd.Series, periods_per_year: int = TRADING_DAYS) -> dict[str, float]:
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


def trade_stats(trades: pd.DataFrame, in_market: pd.Series, equity: pd.Series | None = None,
                periods_per_year: int = TRADING_DAYS) -> dict[str, float]:
    """Time in the market, trade count and per-trade figures of `trades` (trades.csv rows).

    - time_in_market: share of test days whose return depended on a position: held at
      the previous close or at this close, or traded during the day (a stop hit on its entry day).
      The one definition every page shows (report.html, the portfolio section, the tearsheet, which
      is given it): QuantStats' own counts days with a non-zero return, so a held day whose
      price did not move would drop out, and rounds up to a whole percent.
    - win_rate: share of trades with pnl > 0; profit_factor: gross profit / gross loss (inf, written
      as null, when nothing lost); avg_trade_pnl (cash) and avg_trade_pct (of the entry value).
    - turnover: value traded (every entry and exit fill; a trade open at the end has no exit fill)
      over average equity, per year. NaN without `equity`.
    NaN where there are no trades.
    """
    n = int(len(trades))
    pnl = trades["pnl"].to_numpy(dtype=np.float64) if n else np.array([])
    gains, losses = float(pnl[pnl > 0].sum()), float(-pnl[pnl < 0].sum())
    time_in = float(exposed_days(in_market, trades).mean()) if len(in_market) else 0.0
    return {
        "time_in_market": time_in,
        "trades": n,
        "win_rate": float(np.mean(pnl > 0)) if n else math.nan,
        "profit_factor": (gains / losses if losses > 0 else math.inf if gains > 0 else math.nan),
        "avg_trade_pnl": float(pnl.mean()) if n else math.nan,
        "avg_trade_pct": float(trades["pnl_pct"].mean()) if n else math.nan,
        "turnover": _turnover(trades, equity, periods_per_year),
    }


def exposed_days(in_market: pd.Series, trades: pd.DataFrame) -> pd.Series:
    """Per test day: was a position held at some moment of it (see `trade_stats`)?"""
    held = in_market.astype(bool)
    exposed = held | held.shift(1, fill_value=False)
    if len(trades):
        traded = pd.to_datetime(pd.concat([trades["entry_date"], trades["exit_date"]]))
        exposed |= held.index.isin(pd.DatetimeIndex(traded).normalize())
    return exposed


def _turnover(trades: pd.DataFrame, equity: pd.Series | None, periods_per_year: int) -> float:
    if equity is None or len(equity) == 0:
        return math.nan
    if len(trades) == 0:
        return 0.0
    size = trades["size"].to_numpy(dtype=np.float64)
    exited = (trades["exit_reason"] != "end_of_data").to_numpy()
    traded = float(np.sum(size * trades["entry_price"].to_numpy(dtype=np.float64))
                   + np.sum((size * trades["exit_price"].to_numpy(dtype=np.float64))[exited]))
    return traded / float(equity.mean()) * periods_per_year / len(equity)


def sharpe_objective(metrics: dict) -> float:
    """The value a run returns to Hydra's sweepers: the strategy Sharpe, 0.0 when undefined.

    Undefined means one thing: no returns or zero volatility (a strategy that never traded), which
    `performance` gives as NaN and metrics.json stores as null. Optuna refuses NaN objectives and
    would abort the whole search, and "no better than cash" is what such a run is worth. Anything
    else (no strategy block, no Sharpe, a value that is not a number) is a bug and raises: turned
    into 0.0 it would look like a strategy that held cash.
    """
    value: Any = metrics["strategy"]["sharpe"]
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"the strategy's Sharpe is {value!r} ({type(value).__name__}), not a number")
    value = float(value)
    return value if math.isfinite(value) else 0.0


def run_objective(metrics: dict) -> float:
    """What a run returns to Hydra's sweepers, read from its metrics.json blocks: the strategy's
    Sharpe when it traded (`sharpe_objective`), else a universe's mean daily IC (0.0 undefined).

    One definition for a finished run and a stored one, so a resumed sweep gets what the run gave.
    """
    if "strategy" in metrics:
        return sharpe_objective(metrics)
    ic = metrics["cross_section"].get("ic")
    return float(ic) if ic is not None and math.isfinite(ic) else 0.0
