"""`mode=audit`: prove that altering the future changes nothing before it.

For several cutoff dates the data after the cutoff is replaced by a different (valid) future, the
run chain is replayed on it, and every stage's output up to the cutoff is compared with the
original's (backtests/stages/audit.py). Any difference is look-ahead: a feature, scaler or fitted
statistic that saw data from after its own date. Runs on the user's own settings, for one ticker
or a universe.
"""
from __future__ import annotations

from omegaconf import DictConfig

from backtests.stages import audit


def run_audit(cfg: DictConfig, *, cutoffs: int, atol: float) -> float:
    """Audit the configured experiment; exit status 1 and the first offending date on FAIL."""
    return audit.run_audit(cfg, cutoffs, atol)
