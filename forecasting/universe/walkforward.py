"""The global model's walk-forward: fold boundaries by date, the single-ticker schedule on the panel.

The panel calendar (every date any ticker traded) plays the role of a single ticker's bars: the
first forecast date is `initial_train` bars after the calendar's first bar and each fit predicts the
next `retrain_every` dates, so per-ticker and global runs are tested over the same days. A fit made
at the close of its first test date trains only on samples whose target (the ticker's next bar) is
known by then, with any ticker's gaps and late listings respected. A ticker is forecast from the
first fold in which it has as many training samples as a single-ticker run's first fit would.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from forecasting.splits import Fold
from forecasting.universe.explain import explain_fold
from forecasting.universe.panel import Panel
from forecasting.walkforward import _MIN_VALIDATION, WalkForward, _log_progress

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
    date. Tickers with fewer training samples than a single run's first fit neither train nor are
    forecast in this fold (their scalers would rest on a handful of days).
    """
    known = np.isfinite(panel.y) & (panel.target_pos <= fold.test_start)
    train = known & (panel.pos >= fold.train_start) & (panel.pos < fold.train_end)
    counts = np.bincount(panel.ticker[train], minlength=len(panel.tickers))
    ready = counts >= walkforward.train_samples(panel.lead)
    train &= ready[panel.ticker]
    test = (panel.pos >= fold.test_start) & (panel.pos < fold.test_end) & ready[panel.ticker]
    return np.flatnonzero(train), np.flatnonzero(test)


def split_validation(walkforward: WalkForward, panel: Panel, train: np.ndarray, warm: bool,
                     wanted: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Hold out the last `val_fraction` of the training DATES (all tickers on them) for early stopping."""
    dates = np.unique(panel.pos[train])
    n_val = int(len(dates) * walkforward.val_fraction)
    if not wanted or n_val < _MIN_VALIDATION or (warm and not walkforward.warm_validation):
        return train, None
    first_held = dates[-n_val]
    held = panel.pos[train] >= first_held
    return train[~held], train[held]


def run_panel(walkforward: WalkForward, forecaster: Any, panel: Panel, seed: int,
              baselines: Mapping[str, Any] | None = None, until: pd.Timestamp | None = None,
              progress: bool = True, explain: Callable[..., None] | None = None) -> pd.DataFrame:
    """Long-form out-of-sample forecasts: date, ticker, forecast, actual, fold, one column a baseline.

    `until` stops after the fold that predicts that date (the audit needs nothing later).
    `explain(view, None, windows, fold, group)` runs after each fold is predicted, while the fold's
    model still exists: pooled (group "all") and once per ticker with enough test samples
    (forecasting.universe.explain: `PanelExplainer`, or a `FoldExplainer` itself).
    """
    folds = panel_folds(walkforward, panel)
    if not folds:
        raise ValueError(f"the panel's {len(panel.calendar)} dates are fewer than one walk-forward "
                         "fold needs")
    if until is not None:
        last = int(np.searchsorted(panel.calendar, until, side="right"))
        folds = [f for f in folds if f.test_start < last] or folds[:1]
    parts, started = [], time.perf_counter()
    every = -(-len(folds) // 10)
    for done, fold in enumerate(folds, start=1):
        train, test = fold_samples(walkforward, panel, fold)
        if len(train) == 0 or len(test) == 0:
            continue
        warm = walkforward.warm_start and fold.number > 0
        fit_part, held = split_validation(walkforward, panel, train, warm, forecaster.uses_validation)
        forecaster.fit(panel, fit_part, seed=seed + fold.number, warm_start=warm, validation=held)
        part = pd.DataFrame({"date": panel.calendar[panel.pos[test]],
                             "ticker": np.asarray(panel.tickers)[panel.ticker[test]],
                             "forecast": forecaster.predict(panel, test), "actual": panel.y[test],
                             "fold": fold.number})
        if explain is not None:
            explain_fold(explain, forecaster, panel, test, fold)
        for name, baseline in (baselines or {}).items():
            baseline.fit(panel, train, seed=seed + fold.number)
            part[name] = baseline.predict(panel, test)
        parts.append(part)
        if progress and done % every == 0 and done < len(folds):
            _log_progress(done, len(folds), time.perf_counter() - started)
    if not parts:
        raise ValueError("no ticker has enough history for one walk-forward fold")
    result = pd.concat(parts, ignore_index=True).sort_values(["date", "ticker"], kind="stable")
    log.info("global walk-forward: %d folds, %d forecasts of %d tickers from %s to %s in %.1f s",
             len(folds), len(result), result["ticker"].nunique(), result["date"].iloc[0].date(),
             result["date"].iloc[-1].date(), time.perf_counter() - started)
    return result.reset_index(drop=True)
