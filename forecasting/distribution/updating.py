"""The 1-session scale updated by the network's own recent errors: a variance filter on its residuals.

Why: the variance head moves too slowly after a shock. On the 30 shared tickers its 1-session
VaR exceedances came in clusters (Christoffersen's independence test rejected at 95% for 16 of
30) and above nominal in calm-then-turbulent folds (Kupiec rejected at 99% for 17 of 30), and no
static tail fitted once per fold (held-out, whole window, empirical) fixed that
(docs/distributions.md, "The 1-session tail"). A filter of the residuals does: after a run of
large errors the scale rises at once, and it falls back as the errors shrink.

The design: u = (y - location) / sd, the standardised residual of the fold's fitted distribution
(unit variance under its Student-t); v(t+1) = decay v(t) + (1 - decay) u(t)^2 with v = 1 before
the first residual, an exponentially weighted mean of the squared residuals (RiskMetrics' recursion
on the residuals rather than the returns); the scale at t is multiplied by sqrt(weight v(t) + 1 -
weight). (decay, weight) are chosen per fold by the Student-t likelihood of the fold's own
training window (its held-out tail included) over a small grid; weight 0 is the unfiltered scale,
so a fold whose residuals show no clustering keeps it. No look-ahead: v(t) uses the residuals of
the days before t only, each known at t's close.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

DECAYS = (0.9, 0.94, 0.97, 0.99)       # memory of ~10 to ~100 sessions
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # the filter's share of the variance: 0 keeps the network's


@dataclass(frozen=True)
class VarianceUpdate:
    """A fitted filter and its state after the training window's last residual."""

    decay: float = 0.0
    weight: float = 0.0
    state: float = 1.0

    def multipliers(self, residuals: np.ndarray) -> np.ndarray:
        """The scale multiplier of each row that follows the training window, in order: row t's
        from the state and the residuals of rows before t (a NaN residual, unknown yet, is skipped)."""
        out, v = np.empty(len(residuals)), self.state
        for i, u in enumerate(np.asarray(residuals, dtype=np.float64)):
            out[i] = np.sqrt(self.weight * v + 1.0 - self.weight)
            if np.isfinite(u):
                v = self.decay * v + (1.0 - self.decay) * u * u
        return out


def ewma_before(squared: np.ndarray, decay: float) -> np.ndarray:
    """v before each of `squared` (v = 1 before the first) and after the last: len + 1 values."""
    after, _ = signal.lfilter([1.0 - decay], [1.0, -decay], squared, zi=[decay])
    return np.concatenate([[1.0], after])


def fit_update(residuals: np.ndarray, df: float) -> VarianceUpdate:
    """The (decay, weight) of the grid whose multiplied Student-t(df) (unit variance; Gaussian
    when df is inf) gives `residuals`, in time order, the highest likelihood; and its end state."""
    u = np.asarray(residuals, dtype=np.float64)
    u = u[np.isfinite(u)]
    if len(u) < 30:
        return VarianceUpdate()
    nu = float(df)
    # The unit-variance t's log density up to a constant, by hand: scipy's logpdf is ~5x slower
    # and this runs 20 times a fold.
    if np.isfinite(nu):
        def log_density(z2: np.ndarray) -> np.ndarray:
            return -(nu + 1.0) / 2.0 * np.log1p(z2 / (nu - 2.0))
    else:
        def log_density(z2: np.ndarray) -> np.ndarray:
            return -z2 / 2.0

    def nll(c2: np.ndarray) -> float:
        return -float(np.sum(log_density(u * u / c2))) + 0.5 * float(np.sum(np.log(c2)))

    best, lowest = VarianceUpdate(), nll(np.ones(len(u)))
    squared = u * u
    for decay in DECAYS:
        v = ewma_before(squared, decay)
        for weight in WEIGHTS[1:]:
            loss = nll(weight * v[:-1] + 1.0 - weight)
            if loss < lowest:
                best, lowest = VarianceUpdate(decay, weight, float(v[-1])), loss
    return best
