"""The risk-method contract the risk walk-forward relies on, and the frame every method returns.

A method forecasts, for each test window's date t, the distribution of the next day's log return
(the window's target) from what is known at the close of t: the windows themselves (past-only
features) and the returns up to t. It returns the volatility and, per level, VaR and ES as
positive losses (forecasting/risk/distributions.py states the conventions).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from forecasting.risk.distributions import column
from forecasting.windows import Windows

# A fold's fit, as run_risk records it per row (`fit_status`, a number so the audit compares it):
FIT_OK = 0           # fitted (or nothing to fit)
FIT_PREVIOUS = 1     # the fit failed or did not converge: the previous fold's parameters were used
FIT_UNCONVERGED = 2  # did not converge on the first fold, with nothing earlier: used, and marked


class RiskMethod(Protocol):
    """Fits on a fold's training windows; forecasts each test day from returns known by then."""

    @property
    def uses_validation(self) -> bool:
        """True when fit() early-stops on the walk-forward's held-out tail (the LSTM)."""
        ...

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> object: ...

    def predict_risk(self, test: Windows, returns: np.ndarray,
                levels: Sequence[float]) -> pd.DataFrame: ...


class PastOnly:
    """A method with nothing to fit: its only state is the past returns it is given each day."""

    uses_validation = False
    fit_status = FIT_OK

    def fit(self, train: Windows, seed: int = 0, warm_start: bool = False,
            validation: Windows | None = None) -> PastOnly:
        return self


def first_test_position(test: Windows, returns: np.ndarray) -> int:
    """Position of the first test day in the sample order, from the returns known before the last.

    The walk-forward passes `returns` = targets of samples [0, last test sample): the return of
    sample j is known at the close of sample j + 1, so test day k may use returns[:first + k].
    """
    first = len(returns) - len(test) + 1
    if first < 1:
        raise ValueError("a risk forecast needs at least one past return")
    return first


def risk_frame(test: Windows, volatility: np.ndarray,
               by_level: dict[float, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """`volatility, var_95, es_95, var_99, es_99` indexed by the test windows' dates."""
    frame = pd.DataFrame({"volatility": np.asarray(volatility, dtype=np.float64)}, index=test.index)
    for level, (var, es) in by_level.items():
        frame[column("var", level)] = np.asarray(var, dtype=np.float64)
        frame[column("es", level)] = np.asarray(es, dtype=np.float64)
    return frame
