"""The Deflated Sharpe Ratio of each run of a sweep (Bailey & Lopez de Prado, 2014).

The best Sharpe of many trials is inflated by the search itself: even with no skill, the maximum of
N noisy Sharpe ratios grows with N. The DSR is the probability that a run's true Sharpe beats the
maximum that N skill-less trials would be expected to reach, given the spread of the trials'
Sharpe ratios, the run's sample length and its returns' skewness and kurtosis:

    SR0 = sqrt(V[SR_n]) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))     g = Euler's gamma
    DSR = Z((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2))

All Sharpe ratios here are per period (daily), not annualised, and `kurt` is the plain (Pearson)
kurtosis, 3 for normal returns: with it the denominator is Lo's (2002) 1 + SR^2/2 for normal data.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

EULER_GAMMA = 0.5772156649015329


def expected_max_sharpe(variance: float, trials: int) -> float:
    """Expected maximum Sharpe of `trials` skill-less trials whose Sharpe ratios have `variance`.

    One trial is no selection at all: the benchmark is then a Sharpe of 0.
    """
    if trials < 2 or not math.isfinite(variance) or variance <= 0:
        return 0.0
    z = stats.norm.ppf
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * z(1 - 1 / trials)
                                  + EULER_GAMMA * z(1 - 1 / (trials * math.e)))


def probabilistic_sharpe(sharpe: float, benchmark: float, observations: int, skew: float,
                         kurtosis: float) -> float:
    """Probability that the true per-period Sharpe exceeds `benchmark` (the PSR); NaN if undefined."""
    spread = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if observations < 2 or not spread > 0 or not math.isfinite(sharpe):
        return math.nan
    return float(stats.norm.cdf((sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread)))


def moments(returns: pd.Series) -> dict[str, float]:
    """Per-period Sharpe (mean / sample std, as metrics.py), skewness, kurtosis and length."""
    r = pd.Series(returns, dtype="float64").dropna().to_numpy()
    std = float(np.std(r, ddof=1)) if len(r) > 1 else math.nan
    sharpe = float(np.mean(r)) / std if std > 0 else math.nan
    degenerate = not std > 0
    return {"sharpe_per_period": sharpe, "observations": int(len(r)),
            "skew": math.nan if degenerate else float(stats.skew(r)),
            "kurtosis": math.nan if degenerate else float(stats.kurtosis(r, fisher=False))}


def deflated_sharpe(returns: dict[str, pd.Series], trials: int | None = None) -> pd.DataFrame:
    """One row per run (index: the keys of `returns`): moments, SR0 of the sweep, PSR(0) and DSR.

    The trials are the runs with a defined Sharpe; their number and the variance of their Sharpe
    ratios set the benchmark SR0 every run is deflated against. `trials` overrides the number: the
    excess return over buy and hold is deflated by the same search as the strategy, although a
    run that is buy and hold itself has no defined excess Sharpe (its excess is 0 every day).
    """
    table = pd.DataFrame({name: moments(r) for name, r in returns.items()}).T
    if table.empty:
        return pd.DataFrame(columns=["sharpe_per_period", "observations", "skew", "kurtosis",
                                     "trials", "expected_max_sharpe", "psr", "deflated_sharpe"])
    defined = table["sharpe_per_period"].astype(float).dropna()
    variance = float(np.var(defined, ddof=1)) if len(defined) > 1 else math.nan
    count = len(defined) if trials is None else trials
    sr0 = expected_max_sharpe(variance, count)
    table["trials"] = count
    table["expected_max_sharpe"] = sr0
    for column, benchmark in (("psr", 0.0), ("deflated_sharpe", sr0)):
        table[column] = [probabilistic_sharpe(row.sharpe_per_period, benchmark, int(row.observations),
                                              row.skew, row.kurtosis) for row in table.itertuples()]
    return table
