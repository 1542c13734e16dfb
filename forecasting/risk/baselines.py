"""The risk baselines the LSTM must beat: historical simulation, EWMA (RiskMetrics), GARCH(1,1)-t.

Every method follows one contract (forecasting/risk/base.py): `fit` sees the fold's training
windows only; `predict_risk(test, returns, levels)` gets the returns known before the fold's
last test day and forecasts test day k from `returns[:first + k]`, i.e. from returns up to the
close of that day. The array holds nothing later, so no method can read the future through it.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import signal

from forecasting.risk.base import (
    FIT_OK,
    FIT_PREVIOUS,
    FIT_UNCONVERGED,
    PastOnly,
    first_test_position,
    risk_frame,
)
from forecasting.risk.distributions import empirical_var_es, normal_var_es, student_t_var_es
from forecasting.windows import Windows

log = logging.getLogger(__name__)


class HistoricalSimulation(PastOnly):
    """The empirical distribution of the last `window` daily returns, rolled forward every day.

    No parameter is fitted; its only state is the past, so "refit each fold" changes nothing.
    """

    bounds = {"window": "int >= 2"}

    def __init__(self, window: int) -> None:  # conf/risk_model/default.yaml: hs_window
        self.window = window

    def predict_risk(self, test: Windows, returns: np.ndarray, levels: Sequence[float]) -> pd.DataFrame:
        first = first_test_position(test, returns)
        vols: list[float] = []
        by_level: dict[float, tuple[list[float], list[float]]] = {level: ([], []) for level in levels}
        for k in range(len(test)):
            sample = returns[max(0, first + k - self.window):first + k]
            vols.append(float(np.std(sample, ddof=1)))
            for level in levels:
                var, es = empirical_var_es(sample, level)
                by_level[level][0].append(var)
                by_level[level][1].append(es)
        return risk_frame(test, np.asarray(vols),
                          {level: (np.asarray(v), np.asarray(e)) for level, (v, e) in by_level.items()})


class EWMA(PastOnly):
    """RiskMetrics: sigma^2(t+1) = lambda sigma^2(t) + (1 - lambda) r(t)^2, zero mean, normal tails.

    Lambda is fixed (0.94, RiskMetrics' daily value), so nothing is fitted; the recursion starts
    at the first return with the mean square of the first 30 as its seed (of those known before
    the first test day, when fewer).
    """

    bounds = {"lam": "0 < number < 1"}

    def __init__(self, lam: float) -> None:  # conf/risk_model/default.yaml: ewma_lambda
        self.lam = lam

    def predict_risk(self, test: Windows, returns: np.ndarray, levels: Sequence[float]) -> pd.DataFrame:
        first = first_test_position(test, returns)
        # The seed reads only returns known before the first test day (a short first training
        # span has fewer than 30: reading past them would be look-ahead).
        start = float(np.mean(returns[:max(1, min(30, first))] ** 2))
        # lfilter runs the recursion in order: the value after r[j] depends on r[:j+1] only.
        after, _ = signal.lfilter([1 - self.lam], [1, -self.lam], returns**2, zi=[self.lam * start])
        known = np.concatenate([[start], after])  # known[j]: the variance forecast from r[:j]
        sigma = np.sqrt(known[first:first + len(test)])
        zero = np.zeros_like(sigma)
        return risk_frame(test, sigma, {level: normal_var_es(zero, sigma, level) for level in levels})


class GarchT:
    """GARCH(1,1) with a constant mean and Student-t innovations, fitted by `arch` on each fold.

    The parameters come from the fold's training returns only; the variance recursion is then
    run with those fixed parameters over every return known by each test day (starting from the
    training window's variance at the first return), which is the one-step-ahead forecast. Returns are
    scaled by 100 for the optimiser, as arch recommends. A warm fold starts the optimiser from the
    previous fold's parameters (deterministic: the same past gives the same start).

    A fit that fails or whose optimiser does not converge is never used silently: the previous
    fold's parameters are kept (`fit_status` FIT_PREVIOUS); on the first fold, with nothing
    earlier, the unconverged estimate is used and marked (FIT_UNCONVERGED). Either is logged,
    counted per method by run_risk and reported in metrics.json and report.html.
    """

    uses_validation = False
    bounds: dict[str, str] = {}

    def __init__(self) -> None:
        self.params: pd.Series | None = None
        self.start = 0.0
        self.fit_status = FIT_OK

    def fit(self, train: Windows, seed: int = 0, warm_start: bool = False,
            validation: Windows | None = None) -> GarchT:
        from arch import arch_model

        y = 100 * train.labelled.y
        model = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
        start = self.params.to_numpy() if warm_start and self.params is not None else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # arch's own warnings; convergence is checked below
            try:
                result = model.fit(disp="off", starting_values=start, show_warning=False)
            except (ValueError, np.linalg.LinAlgError) as exc:
                if self.params is None:
                    raise
                return self._keep_previous(f"failed ({exc})")
        if result.convergence_flag != 0:
            reason = f"did not converge ({result.optimization_result.message})"
            if self.params is not None:
                return self._keep_previous(reason)
            log.warning("GARCH fit %s on the first fold; nothing earlier to fall back on, so its "
                        "estimate is used and the fold marked", reason)
            self.fit_status = FIT_UNCONVERGED
        else:
            self.fit_status = FIT_OK
        self.params = result.params
        # The recursion's starting variance: the training window's, which a persistence near 1
        # (common on short windows) would otherwise replace by an enormous omega / (1 - a - b).
        self.start = float(np.mean((y - result.params.iloc[0]) ** 2))
        return self

    def _keep_previous(self, reason: str) -> GarchT:
        log.warning("GARCH fit %s; the previous fold's parameters are used", reason)
        self.fit_status = FIT_PREVIOUS
        return self

    def predict_risk(self, test: Windows, returns: np.ndarray, levels: Sequence[float]) -> pd.DataFrame:
        if self.params is None:
            raise RuntimeError("GarchT.predict_risk called before fit")
        mu, omega, alpha, beta, nu = (float(v) for v in self.params.to_numpy())
        first = first_test_position(test, returns)
        shocks = (100 * returns - mu) ** 2
        after, _ = signal.lfilter([1.0], [1, -beta], omega + alpha * shocks, zi=[beta * self.start])
        known = np.concatenate([[self.start], after])
        sigma = np.sqrt(known[first:first + len(test)]) / 100
        mean = np.full_like(sigma, mu / 100)
        return risk_frame(test, sigma, {level: student_t_var_es(mean, sigma, nu, level)
                                        for level in levels})

