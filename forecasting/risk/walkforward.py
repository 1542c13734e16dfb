"""Risk forecasts through the same walk-forward as the return forecasts: same folds, same test days.

Every method, the baselines included, is refit on each fold's training window and forecasts only
that fold's test days; a test day's forecast sees the returns up to its own close and nothing
later (forecasting/risk/base.py). The schedule is WalkForward.schedule, so with the same windows
and `lead` the risk test days are exactly the return forecasts' test days.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from forecasting.incremental import Incremental
from forecasting.risk.base import FIT_OK, FIT_PREVIOUS, FIT_UNCONVERGED, RiskMethod
from forecasting.risk.baselines import EWMA, GarchT, HistoricalSimulation
from forecasting.risk.from_distribution import DistributionRisk
from forecasting.risk.lstm_volatility import LSTMVolatility
from forecasting.walkforward import SeriesSamples, WalkForward
from forecasting.windows import Windows

log = logging.getLogger(__name__)

METHODS = ("lstm", "historical", "ewma", "garch")  # the LSTM first: it is the one on trial
BASELINES = ("historical", "ewma", "garch")


@dataclass(kw_only=True)
class RiskSettings:
    """conf/risk_model (each default there): which methods forecast risk, at which levels, how."""

    bounds: ClassVar[dict[str, str]] = {
        "enabled": "bool", "hs_window": "int >= 2", "ewma_lambda": "0 < number < 1",
        "lstm_units": "int >= 1", "lstm_epochs": "int >= 1", "lstm_warm_epochs": "int >= 0"}

    enabled: bool
    methods: Sequence[str]
    levels: Sequence[float]
    hs_window: int
    ewma_lambda: float
    lstm_units: int
    lstm_epochs: int
    lstm_warm_epochs: int

    def problems(self) -> list[str]:
        """What is wrong with `methods` and `levels` (lists, which the bounds cannot describe)."""
        found = [f"unknown risk method {m!r}" for m in self.methods
                 if m not in METHODS and "." not in str(m)]
        found += [f"risk level {v!r} is not between 0.5 and 1 (exclusive)" for v in self.levels
                  if not isinstance(v, (int, float)) or not 0.5 < v < 1]
        if not self.methods:
            found.append("no risk method chosen")
        return found

    def build(self, window: int, distribution: pd.DataFrame | None = None) -> dict[str, RiskMethod]:
        """Fresh method objects by name (a dotted class path is accepted: tests plug in fakes).

        `distribution`: a distribution forecaster's forecasts (mean_h1, scale_h1, df_h1 by date);
        the `lstm` method then reads its 1-session distribution instead of training a network.
        """
        made: dict[str, RiskMethod] = {}
        for name in self.methods:
            if name == "lstm" and distribution is not None:
                made[name] = DistributionRisk(distribution)
            elif name == "lstm":
                made[name] = LSTMVolatility(window=window, units=self.lstm_units,
                                            epochs=self.lstm_epochs, warm_epochs=self.lstm_warm_epochs)
            elif name == "historical":
                made[name] = HistoricalSimulation(self.hs_window)
            elif name == "ewma":
                made[name] = EWMA(self.ewma_lambda)
            elif name == "garch":
                made[name] = GarchT()
            else:
                module, _, cls = str(name).rpartition(".")
                made[cls] = getattr(importlib.import_module(module), cls)()
        return made


@dataclass
class RiskModel:
    """A risk method as the walk-forward loop's model: predicts from the returns known by then.

    A test day's forecast may read the targets of the samples before it (the return of sample j is
    known at the close of sample j + 1), so the method is handed the returns up to the fold's last
    test day's close and nothing later.
    """

    method: RiskMethod
    windows: Windows
    levels: Sequence[float]

    @property
    def uses_validation(self) -> bool:
        return bool(self.method.uses_validation)

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> RiskModel:
        self.method.fit(train, seed=seed, warm_start=warm_start, validation=validation)
        return self

    def predict(self, test: Windows) -> pd.DataFrame:
        end = int(self.windows.index.searchsorted(test.index[-1])) + 1  # after the last test sample
        frame = self.method.predict_risk(test, self.windows.y[:end - 1], self.levels)
        # How this fold's fit went, kept with its forecasts (a reused fold is not fit again).
        return frame.assign(fit_status=int(getattr(self.method, "fit_status", FIT_OK)))


def run_risk(walkforward: WalkForward, methods: dict[str, RiskMethod], windows: Windows,
             levels: Sequence[float], seed: int, lead: int = 0,
             until: pd.Timestamp | None = None, progress: bool = False,
             incremental: Incremental | None = None) -> pd.DataFrame:
    """One row per method and predicted day: method, volatility, var_*, es_*, realised, fold,
    fit_status (forecasting/risk/base.py: FIT_OK, or how a fold's failed fit was handled).

    `realised` is the window's target, the next day's log return (NaN on the last bar). The folds
    and the loop are the return forecasts' own (`WalkForward.drive`), so both predict the same days.
    `incremental`: reuse an earlier run's folds where their inputs are unchanged (see `drive`).
    """
    models = {name: RiskModel(method, windows, levels) for name, method in methods.items()}
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in methods}
    spent = dict.fromkeys(methods, 0.0)
    realised: list[np.ndarray] = []
    numbers: list[np.ndarray] = []
    for out in walkforward.drive(SeriesSamples(windows, lead), models, seed, until=until,
                                 progress=progress, what="risk walk-forward",
                                 incremental=incremental):
        realised.append(np.asarray(out.test.y))
        numbers.append(np.full(len(out.test), out.fold.number))
        for name, part in out.predictions.items():
            spent[name] += out.seconds[name]
            parts[name].append(part)
    folds = len(numbers)
    # The extra columns once for the whole table, not per fold and method (an evening run reuses
    # every fold but one, and building ~400 small frames would cost it more than its forecast).
    result = pd.concat([frame for name in methods for frame in parts[name]])  # method by method
    per_method = len(result) // max(len(methods), 1)
    result["method"] = [name for name in methods for _ in range(per_method)]
    result["realised"] = np.tile(np.concatenate(realised) if realised else np.empty(0), len(methods))
    result["fold"] = np.tile(np.concatenate(numbers) if numbers else np.empty(0, int), len(methods))
    result.index.name = "date"
    tail = ("method", "realised", "fold", "fit_status")
    columns = ["method", *[c for c in result.columns if c not in tail], *tail[1:]]
    log.info("risk walk-forward: %d folds, %s", folds,
             ", ".join(f"{name} {seconds:.1f} s" for name, seconds in spent.items()))
    warn_unconverged(result)
    return result[columns]


def warn_unconverged(frame: pd.DataFrame) -> None:
    """A warning per method whose fits failed or did not converge in some folds."""
    for name, fits in fit_report(frame).items():
        if fits["not_converged"]:
            log.warning("risk walk-forward: %s: %d of %d fits failed or did not converge (folds %s "
                        "used the previous fold's parameters; folds %s their unconverged estimate)",
                        name, fits["not_converged"], fits["folds"],
                        _folds(fits["previous_parameters"]), _folds(fits["unconverged_used"]))


def fit_report(frame: pd.DataFrame) -> dict[str, dict]:
    """Per method: folds fitted, how many fits failed or did not converge, and which folds used
    the previous fold's parameters or their own unconverged estimate (from `fit_status`)."""
    report: dict[str, dict] = {}
    for name, part in frame.groupby("method", sort=False):
        status = part.groupby("fold")["fit_status"].first()
        report[str(name)] = {
            "folds": int(len(status)), "not_converged": int((status != FIT_OK).sum()),
            "previous_parameters": [int(f) for f in status.index[status == FIT_PREVIOUS]],
            "unconverged_used": [int(f) for f in status.index[status == FIT_UNCONVERGED]]}
    return report


def _folds(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) or "none"
