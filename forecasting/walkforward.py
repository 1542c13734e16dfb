"""Walk-forward retraining: fit on the past, predict the next block of bars, move on.

Every forecast in the result is out of sample: it comes from a fit whose training targets all ended
at least `gap` bars before the forecast's date, with a scaler fit on that training window only.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Literal

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

    mode: Literal["expanding", "sliding"] = "expanding"
    initial_train: int = 756
    retrain_every: int = 21
    gap: int = 1
    warm_start: bool = True
    val_fraction: float = 0.1
    warm_validation: bool = True

    def folds(self, samples: int) -> list[Fold]:
        return walk_forward_folds(samples, self.initial_train, self.retrain_every, self.gap, self.mode)

    @property
    def minimum_samples(self) -> int:
        return minimum_samples(self.initial_train, self.gap)

    def split_validation(self, train: Windows, warm: bool) -> tuple[Windows, Windows | None]:
        """Hold out the chronological tail of a training window for early stopping.

        Fits from scratch always get it. Warm fits get it when `warm_validation` is on (the
        default), and then keep their update only if it lowers the tail's loss; with it off they
        train on the whole window, which is faster but lets repeated updates drift into noise.
        """
        n_val = int(len(train) * self.val_fraction)
        if n_val < _MIN_VALIDATION or (warm and not self.warm_validation):
            return train, None
        return train[:-n_val], train[-n_val:]

    def run(self, forecaster: Forecaster, windows: Windows, seed: int,
            baseline: Forecaster | None = None, until: pd.Timestamp | None = None,
            progress: bool = True,
            explain: Callable[[Forecaster, Windows, Windows, Fold], None] | None = None,
            ) -> pd.DataFrame:
        """Return one out-of-sample row per predicted bar: forecast, actual, fold (and baseline).

        `until` stops after the fold that predicts that date (the audit needs nothing later).
        `explain(forecaster, train, test, fold)` runs after each fold is predicted, while the fold's
        model still exists (forecasting.explain.FoldExplainer; models are not kept).
        """
        folds = self.folds(len(windows))
        if not folds:
            raise ValueError(f"{len(windows)} samples are fewer than the {self.minimum_samples} "
                             "one walk-forward fold needs")
        if until is not None:
            last = int(np.searchsorted(windows.index, until, side="right"))
            folds = [f for f in folds if f.test_start < last] or folds[:1]
        parts, started = [], time.perf_counter()
        bar = tqdm(folds, desc="walk-forward", unit="fold", disable=None if progress else True,
                   leave=False)
        for fold in bar:
            train, test = windows[fold.train_start:fold.train_end], windows[fold.test_start:fold.test_end]
            warm = self.warm_start and fold.number > 0
            fit_part, held_out = self.split_validation(train, warm)
            forecaster.fit(fit_part, seed=seed + fold.number, warm_start=warm, validation=held_out)
            part = pd.DataFrame({"forecast": forecaster.predict(test), "actual": test.y,
                                 "fold": fold.number}, index=test.index)
            if explain is not None:
                explain(forecaster, train, test, fold)
            if baseline is not None:
                baseline.fit(train, seed=seed + fold.number)
                part["baseline"] = baseline.predict(test)
            parts.append(part)
        result = pd.concat(parts)
        result.index.name = "date"
        log.info("walk-forward: %d folds, %d out-of-sample forecasts from %s to %s in %.1f s",
                 len(folds), len(result), result.index[0].date(), result.index[-1].date(),
                 time.perf_counter() - started)
        return result
