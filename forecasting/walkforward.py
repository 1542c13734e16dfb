"""Walk-forward retraining: fit on the past, predict the next block of bars, move on.

Every forecast in the result is out of sample: it comes from a fit whose training targets all ended
at least `gap` bars before the forecast's date, with a scaler fit on that training window only.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from forecasting.base import Forecaster
from forecasting.splits import Fold, minimum_samples, walk_forward_folds
from forecasting.windows import Windows

log = logging.getLogger(__name__)

_MIN_VALIDATION = 20  # fewer held-out samples than this make early stopping noise, not signal


@dataclass
class WalkForward:
    """The retraining schedule (see conf/walkforward/default.yaml for each setting)."""

    bounds: ClassVar[dict[str, str]] = {"mode": "one of: expanding, sliding", "initial_train": "int >= 1",
              "retrain_every": "int >= 1", "gap": "int >= 1", "warm_start": "bool",
              "val_fraction": "0 <= number < 1", "warm_validation": "bool"}

    mode: Literal["expanding", "sliding"] = "expanding"
    initial_train: int = 756
    retrain_every: int = 21
    gap: int = 1
    warm_start: bool = True
    val_fraction: float = 0.1
    warm_validation: bool = True

    def folds(self, samples: int, lead: int = 0) -> list[Fold]:
        """The folds over `samples` windows whose first one ends `lead` bars into the price history.

        `initial_train` counts bars of price history, and the feature warm-up and the first
        window's fill (`lead`) come out of it: the first forecast falls on the same date whatever
        the window length or the features, so runs that differ only in those are tested over the
        same period and can be compared.
        """
        return walk_forward_folds(samples, self.train_samples(lead), self.retrain_every, self.gap,
                                  self.mode)

    def train_samples(self, lead: int = 0) -> int:
        """Samples in the first training span once `lead` bars went to warm-up and the window."""
        return self.initial_train - lead

    def minimum_samples(self, lead: int = 0) -> int:
        return minimum_samples(self.train_samples(lead), self.gap)

    def split_validation(self, train: Windows, warm: bool,
                         wanted: bool = True) -> tuple[Windows, Windows | None]:
        """Hold out the chronological tail of a training window for early stopping.

        A forecaster that does not early-stop (`wanted` False, e.g. ridge) trains on the whole
        window. Fits from scratch always get it. Warm fits get it when `warm_validation` is on (the
        default), and then keep their update only if it lowers the tail's loss; with it off they
        train on the whole window, which is faster but lets repeated updates drift into noise.
        """
        n_val = int(len(train) * self.val_fraction)
        if not wanted or n_val < _MIN_VALIDATION or (warm and not self.warm_validation):
            return train, None
        return train[:-n_val], train[-n_val:]

    def schedule(self, index: pd.DatetimeIndex, lead: int = 0,
                 until: pd.Timestamp | None = None) -> list[Fold]:
        """The folds over samples dated `index`, up to the one that predicts `until` if given.

        Shared by the return forecasts and the risk forecasts, so both predict the same days.
        """
        if self.train_samples(lead) < 1:
            raise ValueError(f"walkforward.initial_train={self.initial_train} bars leave no "
                             f"training sample after {lead} bars of warm-up and window")
        folds = self.folds(len(index), lead)
        if not folds:
            raise ValueError(f"{len(index)} samples are fewer than the "
                             f"{self.minimum_samples(lead)} one walk-forward fold needs")
        if until is not None:
            last = int(np.searchsorted(index, until, side="right"))
            folds = [f for f in folds if f.test_start < last] or folds[:1]
        return folds

    def run(self, forecaster: Forecaster, windows: Windows, seed: int,
            baselines: Mapping[str, Forecaster] | None = None, until: pd.Timestamp | None = None,
            progress: bool = True, lead: int = 0,
            explain: Callable[[Forecaster, Windows, Windows, Fold], None] | None = None,
            ) -> pd.DataFrame:
        """Return one out-of-sample row per predicted bar: forecast, actual, fold, then one column
        per baseline (named by its key), each fit on the fold's whole training window.

        `until` stops after the fold that predicts that date (the audit needs nothing later).
        `lead`: bars of price history before the first window's date (see `folds`).
        `explain(forecaster, train, test, fold)` runs after each fold is predicted, while the fold's
        model still exists (forecasting.explain.FoldExplainer; models are not kept).
        """
        folds = self.schedule(windows.index, lead, until)
        parts, started = [], time.perf_counter()
        bar = tqdm(folds, desc="walk-forward", unit="fold", disable=None if progress else True,
                   leave=False)
        every = -(-len(folds) // 10)  # ~10 progress lines, for logs, clusters and CI
        for done, fold in enumerate(bar, start=1):
            train, test = windows[fold.train_start:fold.train_end], windows[fold.test_start:fold.test_end]
            warm = self.warm_start and fold.number > 0
            fit_part, held_out = self.split_validation(train, warm, forecaster.uses_validation)
            forecaster.fit(fit_part, seed=seed + fold.number, warm_start=warm, validation=held_out)
            part = pd.DataFrame({"forecast": forecaster.predict(test), "actual": test.y,
                                 "fold": fold.number}, index=test.index)
            if explain is not None:
                explain(forecaster, train, test, fold)
            for name, baseline in (baselines or {}).items():
                baseline.fit(train, seed=seed + fold.number)
                part[name] = baseline.predict(test)
            parts.append(part)
            if progress and done % every == 0 and done < len(folds):
                _log_progress(done, len(folds), time.perf_counter() - started)
        result = pd.concat(parts)
        result.index.name = "date"
        log.info("walk-forward: %d folds, %d out-of-sample forecasts from %s to %s in %.1f s",
                 len(folds), len(result), result.index[0].date(), result.index[-1].date(),
                 time.perf_counter() - started)
        return result


def _log_progress(done: int, total: int, elapsed: float) -> None:
    left = elapsed / done * (total - done)
    log.info("walk-forward: %d/%d folds done, %.0f s elapsed, about %.0f s left", done, total,
             elapsed, left)
