"""Incremental walk-forward: which folds of an earlier run still hold, and what the loop must redo.

An earlier run leaves a `FoldMemory`: the inputs it saw (the feature rows and targets its windows
were cut from) and, per fold, each model's state after its fit and every model's predictions. A
later run on grown or revised data compares, fold by fold, what the fold read then and now, each
side after the fold's own scaling (per-feature mean and spread of its training rows), so a
constant re-adjustment of the whole history, which leaves returns and features unchanged but for
rounding, counts as unchanged. Fold by fold, in order:

- `reuse`: its training and test inputs are unchanged and it had as many test samples: its stored
  predictions stand;
- `predict`: its training inputs are unchanged but it has new test sessions (the last fold had
  room) or revised test inputs: its saved model forecasts them, nothing trains;
- `fit`: its training inputs changed, or it is new: it trains, warm-started from the previous
  fold's saved state exactly as the uninterrupted loop would; every later fold trains too (each
  fold continues the one before).

Since every fit starts from the state the uninterrupted loop would hand it and is seeded from its
fold number alone, the result equals a from-scratch run on the same data bit for bit.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from forecasting.splits import Fold
from forecasting.windows import Windows

log = logging.getLogger(__name__)

TOLERANCE = 1e-5  # in units of a fold's own spread: float32 features carry ~1e-7 of rounding


@dataclass(frozen=True)
class Inputs:
    """The table a run's windows were cut from: sample i's window is rows[i:i + window]."""

    rows: np.ndarray   # (samples + window - 1, features), float32
    y: np.ndarray      # (samples,) each sample's target
    index: pd.DatetimeIndex  # each sample's date

    @classmethod
    def of(cls, windows: Windows) -> Inputs:
        return cls.of_arrays(windows.X, windows.y, windows.index)

    @classmethod
    def of_arrays(cls, X: np.ndarray, y: np.ndarray, index: pd.DatetimeIndex) -> Inputs:
        """From consecutive windows X (samples, window, features) of one series."""
        rows = np.concatenate([X[0], X[1:, -1, :]]) if len(X) else np.zeros((0, X.shape[-1]))
        return cls(rows.astype(np.float32), np.asarray(y, dtype=np.float64), index)

    @property
    def window(self) -> int:
        return len(self.rows) - len(self.y) + 1

    def compared_with(self, old: Any) -> Comparison | None:
        """How each fold's inputs now differ from `old`'s (None: not comparable at all)."""
        if not isinstance(old, Inputs) or old.window != self.window:
            return None
        return SeriesComparison(old, self)


class Comparison(Protocol):
    """What `Incremental.plan` asks of the stored and the new inputs, fold by fold, in order."""

    def training(self, fold: Fold, stored: Fold) -> str | None:
        """Why the fold's fit would differ now, or None."""

    def test(self, fold: Fold, stored: Fold) -> str | None:
        """Why the fold's forecasts would differ now, or None."""


class FoldInputs(Protocol):
    """What a walk-forward's folds were cut from: one ticker's windows (`Inputs`) or a panel's."""

    def compared_with(self, old: Any) -> Comparison | None: ...


@dataclass
class FoldRecord:
    """One fold as computed: its schedule, each model's state after its fit, all predictions."""

    fold: Fold
    states: Mapping[str, bytes]  # read lazily from disk when the record comes from an earlier run
    predictions: dict[str, Any]
    extra: Any = None  # what the loop's after-fit callback made of it (attributions)


@dataclass
class FoldMemory:
    """What a run leaves for the next: the inputs it saw and its folds."""

    inputs: FoldInputs
    names: tuple[str, ...]
    folds: dict[int, FoldRecord] = field(default_factory=dict)


@dataclass
class Incremental:
    """The loop's link to an earlier run: the `previous` memory in, the `current` one out."""

    previous: FoldMemory | None
    current: FoldMemory | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"reuse": 0, "predict": 0, "fit": 0})
    saving_s: float = 0.0  # spent freezing fitted states for the next run

    def plan(self, inputs: FoldInputs, folds: list[Fold], names: tuple[str, ...]) -> dict[int, str]:
        """Each fold's action (`reuse`, `predict` or `fit`), logging why a stored fold is redone."""
        self.current = FoldMemory(inputs, names)
        old = self.previous
        plan = {fold.number: "fit" for fold in folds}
        compare = inputs.compared_with(old.inputs) if old is not None else None
        if old is None or old.names != names or compare is None:
            if old is not None:
                log.info("incremental: the stored folds were made with other models or windows; "
                         "training every fold")
            return plan
        earlier: str | None = None  # an earlier fold's revised test inputs (later forecasts read them)
        for fold in folds:
            record = old.folds.get(fold.number)
            if record is None:
                break
            why = compare.training(fold, record.fold)
            if why is not None:
                log.info("incremental: fold %d and every later one trained again: %s", fold.number,
                         why)
                break
            test_why = compare.test(fold, record.fold) or earlier
            plan[fold.number] = "reuse" if test_why is None else "predict"
            if test_why is not None and fold.number != folds[-1].number:
                log.info("incremental: fold %d forecasts again: %s", fold.number, test_why)
                earlier = earlier or f"fold {fold.number}'s test inputs were revised"
        return plan

    def keep(self, record: FoldRecord, action: str) -> None:
        if self.current is not None:
            self.current.folds[record.fold.number] = record
        self.counts[action] += 1

    def give_up(self, reason: str) -> None:
        """Leave nothing for the next run (a model whose state cannot be saved: a plugin's)."""
        log.warning("incremental: %s; this run leaves no fold memory, so the next one trains "
                    "every fold", reason)
        self.current = None

    def summary(self) -> str:
        c = self.counts
        return (f"{c['reuse']} folds reused, {c['predict']} forecast by their saved models, "
                f"{c['fit']} trained ({self.saving_s:.1f} s saving their states)")


def _scaled(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`values` standardised by the mean and spread of `reference` (per column)."""
    values = np.asarray(values, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    mean = np.nanmean(reference, axis=0) if len(reference) else 0.0
    spread = np.nanstd(reference, axis=0) if len(reference) else 1.0
    spread = np.where(np.asarray(spread) > 0, spread, 1.0)
    return (values - mean) / spread


def _first_difference(old: np.ndarray, new: np.ndarray) -> int | None:
    """The first row where two scaled tables differ by more than rounding, or None."""
    if old.shape != new.shape:
        return min(len(old), len(new))
    close = np.isclose(old, new, rtol=0.0, atol=TOLERANCE, equal_nan=True)
    if close.ndim > 1:
        close = close.all(axis=1)
    bad = np.flatnonzero(~close)
    return int(bad[0]) if len(bad) else None


def _scaled_difference(old: np.ndarray, new: np.ndarray, part: slice, reference: slice) -> int | None:
    """The first row of `part` where `old` and `new` differ, each scaled by its own `reference`
    rows, or None. Rows equal bit for bit are equal under any scaling: the usual case (data that
    only grew) costs one comparison, not the fold's statistics."""
    if np.array_equal(old[part], new[part], equal_nan=True):
        return None
    return _first_difference(_scaled(old[part], old[reference]), _scaled(new[part], new[reference]))


class SeriesComparison:
    """Compares the stored inputs with the new ones fold by fold, each row once: under the scaling
    of the first fold that reads it (rows a fold trains on were its predecessors' test rows)."""

    def __init__(self, old: Inputs, new: Inputs) -> None:
        self.old, self.new, self.w = old, new, new.window
        shared = min(len(old.index), len(new.index))
        moved = np.flatnonzero(old.index[:shared] != new.index[:shared])
        self.moved = int(moved[0]) if len(moved) else None
        self.rows_done = self.y_done = 0  # rows and targets found unchanged so far

    def training(self, fold: Fold, stored: Fold) -> str | None:
        """Why the fold's fit would differ now (schedule or training windows), or None."""
        if (stored.train_start, stored.train_end, stored.test_start) != (
                fold.train_start, fold.train_end, fold.test_start):
            return "its schedule moved"
        why = self._compare(fold, fold.train_end + self.w - 1, fold.train_end, "training")
        if why is None:
            self.rows_done, self.y_done = fold.train_end + self.w - 1, fold.train_end
        return why

    def test(self, fold: Fold, stored: Fold) -> str | None:
        """Why the fold's forecasts would differ now (new sessions, revised inputs), or None.

        A forecast may read every return known by its date (risk and distribution methods do);
        the returns before the fold's test span were compared with the folds before it.
        """
        if stored.test_end != fold.test_end:
            return f"{fold.test_end - stored.test_end} new test sessions"
        return self._compare(fold, fold.test_end + self.w - 1, fold.test_end - 1, "test")

    def _compare(self, fold: Fold, rows_end: int, y_end: int, what: str) -> str | None:
        """Why rows [rows_done, rows_end) or targets [y_done, y_end) differ, each side scaled by
        its own fold's training rows and targets, or None."""
        old, new = self.old, self.new
        if len(old.index) < y_end or len(old.rows) < rows_end:
            return f"its {what} windows reach past the stored data"
        if self.moved is not None and self.moved < y_end:
            return f"the dates differ from {new.index[self.moved].date()}"
        rows = slice(min(self.rows_done, rows_end), rows_end)
        train_rows = slice(fold.train_start, fold.train_end + self.w - 1)
        at = _scaled_difference(old.rows, new.rows, rows, train_rows)
        if at is not None:
            day = new.index[max(0, rows.start + at - (self.w - 1))].date()
            return f"its {what} windows were revised (a feature row that the window ending {day} reads)"
        targets = slice(min(self.y_done, y_end), y_end)
        train_y = slice(fold.train_start, fold.train_end)
        at = _scaled_difference(old.y, new.y, targets, train_y)
        if at is not None:
            return (f"its {what} targets were revised (the return after "
                    f"{new.index[targets.start + at].date()})")
        return None
