"""Walk-forward folds: which samples each fit trains on and which it predicts.

The schedule depends only on positions counted from the start, never on how much data follows, so
appending or altering future bars never moves an earlier fold (the look-ahead audit relies on it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Fold:
    """Sample positions: train on [train_start, train_end), predict [test_start, test_end)."""

    number: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def walk_forward_folds(samples: int, initial_train: int, retrain_every: int, gap: int = 1,
                       mode: Literal["expanding", "sliding"] = "expanding") -> list[Fold]:
    """Return the folds covering every sample after the first training span exactly once.

    A fit made at the close of `test_start` may use sample j only if j's target (the return to the
    next close) is known by then: j + horizon <= test_start. With gap >= horizon = 1 the last
    training sample is test_start - gap.
    """
    if initial_train < 1 or retrain_every < 1 or gap < 1:
        raise ValueError("initial_train, retrain_every and gap must all be >= 1")
    if mode not in ("expanding", "sliding"):
        raise ValueError(f"walkforward.mode must be expanding or sliding, got {mode!r}")
    folds: list[Fold] = []
    start = initial_train + gap - 1
    while start < samples:
        train_end = start - gap + 1
        train_start = 0 if mode == "expanding" else max(0, train_end - initial_train)
        folds.append(Fold(len(folds), train_start, train_end, start, min(start + retrain_every, samples)))
        start += retrain_every
    return folds


def minimum_samples(initial_train: int, gap: int = 1) -> int:
    """Samples needed for one fold that predicts at least one bar."""
    return initial_train + gap
