"""The global model's samples for the walk-forward: fold boundaries by date on the panel calendar.

The panel calendar (every date any ticker traded) plays the role of a single ticker's bars: the
first forecast date is `initial_train` bars after the calendar's first bar and each fit predicts the
next `retrain_every` dates, so per-ticker and global runs are tested over the same days. A fit made
at the close of its first test date trains only on samples whose target (the ticker's next bar) is
known by then, with any ticker's gaps and late listings respected. A ticker is forecast from its
first window (features' warm-up plus one window of bars) and trained on once a fold holds its
labelled samples. With point-in-time membership only a member's samples are trained on and
forecast, each on the dates it was a member.
The loop itself is the single-ticker one (`WalkForward.drive`); only the samples differ.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.incremental import Incremental
from forecasting.splits import Fold
from forecasting.universe.explain import explain_fold
from forecasting.universe.incremental import PanelInputs
from forecasting.universe.panel import Panel
from forecasting.walkforward import MIN_VALIDATION, WalkForward

log = logging.getLogger(__name__)


def panel_folds(walkforward: WalkForward, panel: Panel) -> list[Fold]:
    """Folds in calendar positions (train [start, end) by forecast date, test [start, end))."""
    lead = panel.lead
    shifted = walkforward.folds(len(panel.calendar) - lead, lead)
    return [Fold(f.number, f.train_start + lead, f.train_end + lead, f.test_start + lead,
                 f.test_end + lead) for f in shifted]


def fold_samples(walkforward: WalkForward, panel: Panel, fold: Fold) -> tuple[np.ndarray, np.ndarray]:
    """(training sample positions, test sample positions) of one fold.

    Training: made inside the fold's training dates, target known by the close of the first test
    date. Test: every sample on the fold's test dates, a new listing's from its first window (its
    scalers are the pooled ones until it has its own, PanelScaler). With membership, both only
    where the ticker was a member on the sample's date.
    """
    known = np.isfinite(panel.y) & (panel.target_pos <= fold.test_start)
    train = known & (panel.pos >= fold.train_start) & (panel.pos < fold.train_end)
    test = (panel.pos >= fold.test_start) & (panel.pos < fold.test_end)
    if panel.member is not None:
        train &= panel.member
        test &= panel.member
    return np.flatnonzero(train), np.flatnonzero(test)


def split_validation(walkforward: WalkForward, panel: Panel, train: np.ndarray, warm: bool,
                     wanted: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Hold out the last `val_fraction` of the training DATES (all tickers on them) for early stopping."""
    dates = np.unique(panel.pos[train])
    n_val = int(len(dates) * walkforward.val_fraction)
    if not wanted or n_val < MIN_VALIDATION or (warm and not walkforward.warm_validation):
        return train, None
    first_held = dates[-n_val]
    held = panel.pos[train] >= first_held
    return train[~held], train[held]


@dataclass(frozen=True)
class PanelSamples:
    """A panel for the walk-forward loop: folds by calendar date, a fold's samples as positions."""

    panel: Panel

    def folds(self, walkforward: WalkForward, until: pd.Timestamp | None = None) -> list[Fold]:
        folds = panel_folds(walkforward, self.panel)
        if not folds:
            raise ValueError(f"the panel's {len(self.panel.calendar)} dates are fewer than one "
                             "walk-forward fold needs")
        return walkforward.cut(folds, self.panel.calendar, until)

    def select(self, walkforward: WalkForward, fold: Fold) -> tuple[np.ndarray, np.ndarray]:
        return fold_samples(walkforward, self.panel, fold)

    def hold_out(self, walkforward: WalkForward, train: np.ndarray, warm: bool,
                 wanted: bool) -> tuple[np.ndarray, np.ndarray | None]:
        return split_validation(walkforward, self.panel, train, warm, wanted)

    def size(self, samples: np.ndarray) -> int:
        return len(samples)

    def inputs(self) -> PanelInputs:
        return PanelInputs.of(self.panel)


@dataclass
class OnPanel:
    """A panel model (fit/predict on (panel, positions)) as the loop's model of positions."""

    model: Any
    panel: Panel

    @property
    def uses_validation(self) -> bool:
        return bool(self.model.uses_validation)

    def fit(self, train: np.ndarray, seed: int, warm_start: bool = False,
            validation: np.ndarray | None = None) -> OnPanel:
        self.model.fit(self.panel, train, seed=seed, warm_start=warm_start, validation=validation)
        return self

    def predict(self, test: np.ndarray) -> np.ndarray:
        return self.model.predict(self.panel, test)


def run_panel(walkforward: WalkForward, forecaster: Any, panel: Panel, seed: int,
              baselines: Mapping[str, Any] | None = None, until: pd.Timestamp | None = None,
              progress: bool = True, explain: Callable[..., None] | None = None,
              incremental: Incremental | None = None) -> pd.DataFrame:
    """Long-form out-of-sample forecasts: date, ticker, forecast, actual, fold, one column a baseline
    (and a distribution model's 1-session columns, forecasting/universe/distribution.py).

    `until` stops after the fold that predicts that date (the audit needs nothing later).
    `explain(view, None, windows, fold, group)` runs after each fold is predicted, while the fold's
    model still exists: pooled (group "all") and once per ticker with enough test samples
    (forecasting.universe.explain: `PanelExplainer`, or a `FoldExplainer` itself).
    `incremental`: reuse an earlier run's folds where their inputs are unchanged (see `drive` and
    forecasting/universe/incremental.py); not with `explain` (a reused fold is not explained).
    """
    if explain is not None and incremental is not None:
        raise ValueError("the global model's incremental walk-forward does not explain its folds")
    started = time.perf_counter()
    after = None
    if explain is not None:
        after = lambda fold, train, test: explain_fold(explain, forecaster, panel, test, fold)  # noqa: E731
    others = {name: OnPanel(model, panel) for name, model in (baselines or {}).items()}
    parts = []
    for out in walkforward.drive(PanelSamples(panel), {"forecast": OnPanel(forecaster, panel)}, seed,
                                 others, until, progress, "global walk-forward", after,
                                 incremental):
        test = out.test
        made = out.predictions.pop("forecast")
        extra = made.drop(columns="forecast") if isinstance(made, pd.DataFrame) else None
        part = pd.DataFrame({"date": panel.calendar[panel.pos[test]],
                             "ticker": np.asarray(panel.tickers)[panel.ticker[test]],
                             "forecast": made["forecast"].to_numpy() if extra is not None else made,
                             "actual": panel.y[test], "fold": out.fold.number})
        for name, values in out.predictions.items():
            part[name] = values
        if extra is not None:  # a distribution model's columns (mean_h1, ...), after the baselines
            part = pd.concat([part, extra.reset_index(drop=True)], axis=1)
        parts.append(part)
    if not parts:
        raise ValueError("no ticker has enough history for one walk-forward fold")
    result = pd.concat(parts, ignore_index=True).sort_values(["date", "ticker"], kind="stable")
    folds = len(PanelSamples(panel).folds(walkforward, until))
    log.info("global walk-forward: %d folds, %d forecasts of %d tickers from %s to %s in %.1f s",
             folds, len(result), result["ticker"].nunique(), result["date"].iloc[0].date(),
             result["date"].iloc[-1].date(), time.perf_counter() - started)
    return result.reset_index(drop=True)
