"""Value-at-Risk and Expected Shortfall of a one-day return distribution, as positive losses.

Conventions used by every risk method: returns are daily log returns of the close (the forecasts'
target); at level 0.99 the VaR is minus the 1% quantile of the next-day return and the ES is minus
the mean return below that quantile. A VaR of 0.03 means "a loss worse than 3% (in log terms) on
one day in a hundred".
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def tail(level: float) -> float:
    """The tail probability of a VaR level: 0.99 -> 0.01 (rounded: 1 - 0.95 is not 0.05 in floats)."""
    return round(1.0 - level, 12)


def column(kind: str, level: float) -> str:
    """`var_99`, `es_95`: the var.csv column of a measure at a level."""
    return f"{kind}_{round(level * 100):d}"


def normal_var_es(mean: np.ndarray, sigma: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES of N(mean, sigma^2) (EWMA / RiskMetrics)."""
    a = tail(level)
    z = stats.norm.ppf(a)
    var = -(mean + sigma * z)
    es = -mean + sigma * stats.norm.pdf(z) / a
    return var, es


def student_t_var_es(mean: np.ndarray, sigma: np.ndarray, nu: float,
                     level: float) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES of mean + sigma * z, z a Student-t with `nu` dof scaled to unit variance (GARCH-t).

    The ES of a standard t's lower tail is f(t_a) (nu + t_a^2) / ((nu - 1) a); the unit-variance
    scaling multiplies quantile and ES by sqrt((nu - 2) / nu).
    """
    a = tail(level)
    t_a = stats.t.ppf(a, nu)
    scale = np.sqrt((nu - 2.0) / nu)
    q = t_a * scale
    es_std = stats.t.pdf(t_a, nu) * (nu + t_a**2) / ((nu - 1.0) * a) * scale
    return -(mean + sigma * q), -mean + sigma * es_std


def empirical_var_es(sample: np.ndarray, level: float) -> tuple[float, float]:
    """VaR and ES of an empirical sample (historical simulation, filtered residuals).

    The quantile interpolates linearly (numpy's default); the ES averages the observations at or
    below it, so it is never smaller than the VaR.
    """
    q = float(np.quantile(sample, tail(level)))
    below = sample[sample <= q]
    es = -float(below.mean()) if len(below) else -q
    return -q, es
