"""The global model's incremental walk-forward: which panel folds of an earlier run still hold.

A panel fold trains on, and forecasts, samples of many tickers chosen by date (calendar positions,
each sample's target known by the fold's first test date, membership). Its inputs are unchanged
when, for every ticker, the same samples are chosen and their windows and targets are unchanged
after that ticker's own scaling: the single-ticker comparison (forecasting/incremental.py) run per
ticker on the ticker's share of the fold. So a constant re-adjustment of one ticker's history
retrains nothing, a corrected bar retrains the folds whose training windows read it, and an
appended session leaves every fold as it was.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.incremental import Comparison, Inputs, SeriesComparison
from forecasting.splits import Fold
from forecasting.universe.panel import Panel


@dataclass(frozen=True)
class TickerInputs:
    """One ticker's share of the panel: its windows' table and where each sample sits."""

    inputs: Inputs
    pos: np.ndarray         # calendar position of each sample's date
    target_pos: np.ndarray  # calendar position of each sample's target
    member: np.ndarray      # each sample may be trained on and forecast (membership)

    def fold(self, fold: Fold) -> tuple[Fold, np.ndarray, np.ndarray]:
        """The panel fold in this ticker's own sample positions, with its training and test
        samples (as `forecasting.universe.walkforward.fold_samples` chooses them)."""
        known = np.isfinite(self.inputs.y) & (self.target_pos <= fold.test_start) & self.member
        train = np.flatnonzero(known & (self.pos >= fold.train_start) & (self.pos < fold.train_end))
        test_start, test_end = np.searchsorted(self.pos, [fold.test_start, fold.test_end])
        test = np.flatnonzero(self.member[test_start:test_end]) + test_start
        first = int(np.searchsorted(self.pos, fold.train_start))
        start, end = (int(train[0]), int(train[-1]) + 1) if len(train) else (first, first)
        return Fold(fold.number, start, end, int(test_start), int(test_end)), train, test


@dataclass(frozen=True)
class PanelInputs:
    """What a panel walk-forward's folds were cut from: the calendar and each ticker's share."""

    calendar: pd.DatetimeIndex
    tickers: dict[str, TickerInputs]

    @classmethod
    def of(cls, panel: Panel) -> PanelInputs:
        member = np.ones(len(panel), dtype=bool) if panel.member is None else panel.member
        tickers = {}
        for number, name in enumerate(panel.tickers):
            mine = np.flatnonzero(panel.ticker == number)  # one block, in date order
            tickers[name] = TickerInputs(
                Inputs.of_arrays(panel.X[mine], panel.y[mine], panel.calendar[panel.pos[mine]]),
                panel.pos[mine].copy(), panel.target_pos[mine].copy(), member[mine].copy())
        return cls(panel.calendar, tickers)

    def compared_with(self, old: Any) -> Comparison | None:
        if not isinstance(old, PanelInputs) or list(old.tickers) != list(self.tickers):
            return None
        windows = {t.inputs.window for t in (*old.tickers.values(), *self.tickers.values())}
        return PanelComparison(old, self) if len(windows) == 1 else None


class PanelComparison:
    """The stored panel against the new one, fold by fold: the calendar, then each ticker."""

    def __init__(self, old: PanelInputs, new: PanelInputs) -> None:
        self.old, self.new = old, new
        shared = min(len(old.calendar), len(new.calendar))
        moved = np.flatnonzero(old.calendar[:shared] != new.calendar[:shared])
        self.moved = int(moved[0]) if len(moved) else None
        self.each = {t: SeriesComparison(old.tickers[t].inputs, new.tickers[t].inputs)
                     for t in new.tickers}

    def _dates(self, end: int) -> str | None:
        if self.moved is not None and self.moved < end:
            return f"the panel's dates differ from {self.new.calendar[self.moved].date()}"
        return None

    def training(self, fold: Fold, stored: Fold) -> str | None:
        if (stored.train_start, stored.train_end, stored.test_start) != (
                fold.train_start, fold.train_end, fold.test_start):
            return "its schedule moved"
        return self._each(fold, stored, fold.test_start + 1, "training")

    def test(self, fold: Fold, stored: Fold) -> str | None:
        if stored.test_end != fold.test_end:
            return f"{fold.test_end - stored.test_end} new test sessions"
        return self._each(fold, stored, fold.test_end, "test")

    def _each(self, fold: Fold, stored: Fold, end: int, part: str) -> str | None:
        """Why the fold's `part` (training or test) must be redone: the dates up to `end`, then
        each ticker's samples and, after its own scaling, their windows and targets."""
        why = self._dates(end)
        training = part == "training"
        for name, compare in self.each.items():
            if why is not None:
                return why
            old, old_train, old_test = self.old.tickers[name].fold(stored)
            new, new_train, new_test = self.new.tickers[name].fold(fold)
            same = np.array_equal(old_train, new_train) if training else np.array_equal(old_test, new_test)
            if not same:
                return f"{name}'s {part} samples changed"
            why = compare.training(new, old) if training else compare.test(new, old)
            why = None if why is None else f"{name}: {why}"
        return why
