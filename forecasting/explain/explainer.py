"""The per-fold callback that explains each walk-forward model while it still exists."""
from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from forecasting.explain.aggregate import Explanation, FoldAttribution
from forecasting.explain.gradients import integrated_gradients
from forecasting.explain.permutation import feature_masks, lag_blocks, lag_masks, permutation_importance
from forecasting.splits import Fold
from forecasting.windows import Windows

log = logging.getLogger(__name__)


class FoldExplainer:
    """Called by `WalkForward.run` right after a fold is predicted; collects its attributions.

    Everything is measured on the fold's test windows with the fold's model; the gradient baseline
    and the scaling come from the fold's training window (through the forecaster's scaler), so no
    attribution uses data the forecasts could not have used. Shuffles are seeded by (seed, fold):
    reruns give the same tables.
    """

    # Each setting's bound (checked before any data is read: backtests/settings/bounds.py).
    bounds = {"repeats": "int >= 1", "gradient_steps": "int >= 1"}  # seed: the top-level one

    def __init__(self, feature_names: Sequence[str], *, repeats: int, lag_blocks: Sequence[int],
                 gradient_steps: int, seed: int) -> None:  # defaults: conf/explain/default.yaml
        self.feature_names = list(feature_names)
        self.repeats, self.upper_ends = int(repeats), [int(e) for e in lag_blocks]
        self.gradient_steps, self.seed = int(gradient_steps), int(seed)
        self.explanation: Explanation | None = None
        self.seconds = 0.0  # time spent explaining, so a run can show the overhead

    def __call__(self, forecaster: Any, train: Windows | None, test: Windows, fold: Fold,
                 group: str = "all") -> None:
        """Attribute `forecaster`'s forecasts for `test` (`train` is the fold's training window;
        its statistics reach the attributions through the forecaster's scaler only, so the global
        model, whose per-ticker scalers hold them, passes None).

        The global model calls this once with all of a fold's test samples (`group="all"`, pooled)
        and once per ticker's slice of them (`group=<ticker>`, its own shuffles:
        forecasting/universe/explain.py).
        """
        started = time.perf_counter()
        window, features = test.X.shape[1:]
        if features != len(self.feature_names):
            raise ValueError(f"{features} input features but {len(self.feature_names)} names")
        if self.explanation is None:
            self.explanation = Explanation(self.feature_names, lag_blocks(window, self.upper_ends),
                                           window)
        blocks = self.explanation.blocks
        masks = feature_masks(window, features) + lag_masks(window, features, blocks)
        rng = np.random.default_rng([self.seed, fold.number] if group == "all" else
                                    [self.seed, fold.number, zlib.crc32(group.encode())])
        permutation = permutation_importance(forecaster, test, masks, self.repeats, rng)
        gradients = integrated_gradients(forecaster, test, self.gradient_steps)
        self.explanation.folds.append(FoldAttribution(
            fold=fold.number, start=test.index[0].date().isoformat(),
            samples=len(test.labelled), windows=len(test),
            **permutation,  # type: ignore[arg-type]
            gradients=None if gradients is None else np.abs(gradients).mean(axis=0),
            coefficients=_coefficients(forecaster, window, features), group=group))
        self.seconds += time.perf_counter() - started

    def reuse(self, attribution: FoldAttribution, window: int) -> None:
        """Take the attributions an earlier run made of a fold whose model and test windows are
        unchanged (an incremental walk-forward does not restore its model to explain it again)."""
        if self.explanation is None:
            self.explanation = Explanation(self.feature_names, lag_blocks(window, self.upper_ends),
                                           window)
        self.explanation.folds.append(attribution)


def _coefficients(forecaster: Any, window: int, features: int) -> np.ndarray | None:
    """A linear forecaster's standardised coefficients as (window, features), older lags zero."""
    coef = getattr(forecaster, "coef", None)
    if coef is None:
        return None
    grid = np.asarray(coef, dtype=float).reshape(-1, features)
    out = np.zeros((window, features))
    out[window - len(grid):] = grid
    return out
