"""Walk-forward retraining: fit on the past, predict the next block of bars, move on.

Every forecast in the result is out of sample: it comes from a fit whose training targets all ended
at least `gap` bars before the forecast's date, with a scaler fit on that training window only.
"""
from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from forecasting.base import Forecaster
from forecasting.checkpoint import freeze, thaw_into
from forecasting.incremental import FoldInputs, FoldRecord, Incremental, Inputs
from forecasting.splits import Fold, minimum_samples, walk_forward_folds
from forecasting.windows import Windows

log = logging.getLogger(__name__)

MIN_VALIDATION = 20  # fewer held-out samples than this make early stopping noise, not signal


@dataclass(kw_only=True)
class WalkForward:
    """The retraining schedule: each setting and its default in conf/walkforward/default.yaml."""

    bounds: ClassVar[dict[str, str]] = {"mode": "one of: expanding, sliding", "initial_train": "int >= 1",
              "retrain_every": "int >= 1", "gap": "int >= 1", "warm_start": "bool",
              "val_fraction": "0 <= number < 1", "warm_validation": "bool"}

    mode: Literal["expanding", "sliding"]
    initial_train: int
    retrain_every: int
    gap: int
    warm_start: bool
    val_fraction: float
    warm_validation: bool

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
        if not wanted or n_val < MIN_VALIDATION or (warm and not self.warm_validation):
            return train, None
        return train[:-n_val], train[-n_val:]

    def cut(self, folds: list[Fold], calendar: pd.DatetimeIndex,
            until: pd.Timestamp | None) -> list[Fold]:
        """The folds up to the one that predicts `until` (the audit needs nothing later)."""
        if until is None:
            return folds
        last = int(np.searchsorted(calendar, until, side="right"))
        return [f for f in folds if f.test_start < last] or folds[:1]

    def drive(self, data: FoldData, models: Mapping[str, FoldModel], seed: int,
              baselines: Mapping[str, FoldModel] | None = None, until: pd.Timestamp | None = None,
              progress: bool = True, what: str = "walk-forward",
              after_fit: Callable[[Fold, Any, Any], Any] | None = None,
              incremental: Incremental | None = None,
              replay: Callable[[Fold, Any], None] | None = None) -> Iterator[FoldOutput]:
        """The one walk-forward loop: every model of every kind, on one ticker or a panel.

        For each fold of `data` (up to the one that predicts `until`): each of `models` is fit on
        the fold's training samples (the chronological validation tail held out when it early-stops;
        warm-started from its previous fold after the first; seeded `seed + fold`) and predicts the
        fold's test samples; `after_fit(fold, train, test)` runs while those fits still exist
        (attributions: models are not kept); then each baseline is fit from scratch on the whole
        training window and predicts the same samples. Yields each fold's predictions by name, with
        the seconds each model took; logs progress about ten times (logs, clusters and CI see it).

        With `incremental`, an earlier run's folds are reused where
        their inputs are unchanged and each model's state after every fit is kept for the next
        run (forecasting/incremental.py); the yield is the same as without it, bit for bit.
        What `after_fit` returns is kept with the fold, and handed to `replay(fold, it)` when a
        later run reuses the fold (its model is not restored for that).
        """
        folds = data.folds(self, until)
        names = (*models, *(baselines or {}))
        plan: dict[int, str] = {}
        if incremental is not None:
            plan = incremental.plan(data.inputs(), folds, tuple(names))
        live_at = -1  # the fold whose fitted state the live models hold
        started = time.perf_counter()
        bar = tqdm(folds, desc=what, unit="fold", disable=None if progress else True, leave=False)
        every = -(-len(folds) // 10)
        for done, fold in enumerate(bar, start=1):
            train, test = data.select(self, fold)
            if data.size(train) == 0 or data.size(test) == 0:
                continue
            action = plan.get(fold.number, "fit")
            stored = (incremental.previous.folds.get(fold.number)
                      if incremental is not None and incremental.previous is not None else None)
            if action == "reuse" and stored is not None and incremental is not None:
                incremental.keep(stored, action)
                if replay is not None:
                    replay(fold, stored.extra)
                yield FoldOutput(fold, train, test, dict(stored.predictions), dict.fromkeys(names, 0.0))
                continue
            warm = self.warm_start and fold.number > 0
            predictions: dict[str, Any] = {}
            seconds: dict[str, float] = {}
            fitted: dict[str, bytes] = {}  # each model's state after this run's fit
            if incremental is not None and stored is not None and action == "predict":
                for name, model in models.items():  # the fold's own fitted state: nothing trains
                    thaw_into(model, stored.states[name])
                live_at = fold.number
            elif incremental is not None and live_at != fold.number - 1 and incremental.previous:
                before = incremental.previous.folds.get(fold.number - 1)
                if before is not None:  # resume from the state the loop had after that fold
                    for name, model in models.items():
                        thaw_into(model, before.states[name])
            for name, model in models.items():
                clock = time.perf_counter()
                if action != "predict":
                    fit_part, held_out = data.hold_out(self, train, warm, model.uses_validation)
                    model.fit(fit_part, seed=seed + fold.number, warm_start=warm, validation=held_out)
                    if incremental is not None and incremental.current is not None:
                        saving = time.perf_counter()
                        try:
                            fitted[name] = freeze(model)
                        except (pickle.PicklingError, TypeError, AttributeError, ValueError) as exc:
                            incremental.give_up(f"{name}'s state cannot be saved ({exc})")
                        incremental.saving_s += time.perf_counter() - saving
                predictions[name] = model.predict(test)
                seconds[name] = time.perf_counter() - clock
            live_at = fold.number
            extra = after_fit(fold, train, test) if after_fit is not None else None
            for name, baseline in (baselines or {}).items():
                clock = time.perf_counter()
                baseline.fit(train, seed=seed + fold.number)
                predictions[name] = baseline.predict(test)
                seconds[name] = time.perf_counter() - clock
            if incremental is not None:
                states = stored.states if action == "predict" and stored is not None else fitted
                incremental.keep(FoldRecord(fold, states, dict(predictions), extra), action)
            yield FoldOutput(fold, train, test, predictions, seconds)
            if progress and done % every == 0 and done < len(folds):
                elapsed = time.perf_counter() - started
                log.info("%s: %d/%d folds done, %.0f s elapsed, about %.0f s left", what, done,
                         len(folds), elapsed, elapsed / done * (len(folds) - done))
        if incremental is not None:
            log.info("%s: incremental: %s", what, incremental.summary())

    def run(self, forecaster: Forecaster, windows: Windows, seed: int,
            baselines: Mapping[str, Forecaster] | None = None, until: pd.Timestamp | None = None,
            progress: bool = True, lead: int = 0,
            explain: Callable[[Forecaster, Windows, Windows, Fold], None] | None = None,
            incremental: Incremental | None = None) -> pd.DataFrame:
        """Return one out-of-sample row per predicted bar: forecast, actual, fold, then one column
        per baseline (named by its key), each fit on the fold's whole training window.

        `until` stops after the fold that predicts that date (the audit needs nothing later).
        `lead`: bars of price history before the first window's date (see `folds`).
        `explain(forecaster, train, test, fold)` runs after each fold is predicted, while the fold's
        model still exists (forecasting.explain.FoldExplainer; models are not kept).
        `incremental`: reuse an earlier run's folds (see `drive`); a reused fold's attributions
        are the ones the earlier run made (`explain` needs `reuse(attribution, window)` for that).
        """
        started = time.perf_counter()
        after = replay = None
        if explain is not None:
            def after(fold: Fold, train: Windows, test: Windows) -> Any:
                explain(forecaster, train, test, fold)
                made = getattr(explain, "explanation", None)
                return made.folds[-1] if made is not None and made.folds else None

            def replay(fold: Fold, attribution: Any) -> None:
                explain.reuse(attribution, windows.X.shape[1])  # type: ignore[attr-defined]
        parts = []
        model: FoldModel = (WithDistribution(forecaster) if hasattr(forecaster, "distribution_columns")
                            else forecaster)
        for out in self.drive(SeriesSamples(windows, lead), {"forecast": model}, seed, baselines,
                              until, progress, after_fit=after, incremental=incremental,
                              replay=replay):
            made = out.predictions.pop("forecast")
            extra = made.drop(columns="forecast") if isinstance(made, pd.DataFrame) else None
            part = pd.DataFrame({"forecast": made["forecast"] if extra is not None else made,
                                 "actual": out.test.y, "fold": out.fold.number}, index=out.test.index)
            for name, values in out.predictions.items():
                part[name] = values
            if extra is not None:  # a distribution forecaster's columns, after the baselines
                part = part.join(extra)
            parts.append(part)
        result = pd.concat(parts)
        result.index.name = "date"
        log.info("walk-forward: %d folds, %d out-of-sample forecasts from %s to %s in %.1f s",
                 result["fold"].nunique(), len(result), result.index[0].date(),
                 result.index[-1].date(), time.perf_counter() - started)
        return result


class WithDistribution:
    """A distribution forecaster as the loop's model: each fold predicts its point forecast and,
    beside it, its distribution's columns (mean_h1, scale_h1, df_h1, ...), from one fit."""

    def __init__(self, forecaster: Any) -> None:
        self.forecaster = forecaster

    @property
    def uses_validation(self) -> bool:
        return bool(self.forecaster.uses_validation)

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> WithDistribution:
        self.forecaster.fit(train, seed=seed, warm_start=warm_start, validation=validation)
        return self

    def predict(self, test: Windows) -> pd.DataFrame:
        return self.forecaster.distribution_columns(test)  # with its point forecast, `forecast`


class FoldModel(Protocol):
    """What the loop drives: a return forecaster, a risk method, a panel model, a baseline."""

    @property
    def uses_validation(self) -> bool: ...

    def fit(self, train: Any, seed: int, warm_start: bool = False, validation: Any = None) -> object: ...

    def predict(self, test: Any) -> Any: ...


class FoldData(Protocol):
    """What the loop walks over: one ticker's windows or a panel of many (samples of any kind)."""

    def folds(self, walkforward: WalkForward, until: pd.Timestamp | None = None) -> list[Fold]: ...

    def select(self, walkforward: WalkForward, fold: Fold) -> tuple[Any, Any]: ...

    def hold_out(self, walkforward: WalkForward, train: Any, warm: bool,
                 wanted: bool) -> tuple[Any, Any | None]: ...

    def size(self, samples: Any) -> int: ...

    def inputs(self) -> FoldInputs:
        """What the folds are cut from, as the incremental walk-forward compares it."""


@dataclass(frozen=True)
class FoldOutput:
    """One fold's work: its schedule, its samples, each model's predictions and seconds."""

    fold: Fold
    train: Any
    test: Any
    predictions: dict[str, Any]
    seconds: dict[str, float]


@dataclass(frozen=True)
class SeriesSamples:
    """One ticker's windows: the folds count its samples; a fold's samples are position slices."""

    windows: Windows
    lead: int = 0

    def folds(self, walkforward: WalkForward, until: pd.Timestamp | None = None) -> list[Fold]:
        if walkforward.train_samples(self.lead) < 1:
            raise ValueError(f"walkforward.initial_train={walkforward.initial_train} bars leave no "
                             f"training sample after {self.lead} bars of warm-up and window")
        folds = walkforward.folds(len(self.windows), self.lead)
        if not folds:
            raise ValueError(f"{len(self.windows)} samples are fewer than the "
                             f"{walkforward.minimum_samples(self.lead)} one walk-forward fold needs")
        return walkforward.cut(folds, self.windows.index, until)

    def select(self, walkforward: WalkForward, fold: Fold) -> tuple[Windows, Windows]:
        return (self.windows[fold.train_start:fold.train_end],
                self.windows[fold.test_start:fold.test_end])

    def hold_out(self, walkforward: WalkForward, train: Windows, warm: bool,
                 wanted: bool) -> tuple[Windows, Windows | None]:
        return walkforward.split_validation(train, warm, wanted)

    def size(self, samples: Windows) -> int:
        return len(samples)

    def inputs(self) -> Inputs:
        return Inputs.of(self.windows)
