"""Fold attributions and the tables built from them, folds weighted by their size.

A fold predicts ~21 bars, so one fold's permutation importance is noisy; pooled over folds (each
weighted by the windows it scored, i.e. every scored window counts once) it is much less so. The
spread of a permutation importance (`permutation_std`, `direction_accuracy_std`) is the standard
error of the pooled figure over all scored windows, each window's change averaged over the shuffle
repeats: it covers which days happened to be tested as well as the luck of the shuffles. The
spread over repeats alone (`shuffle_std`, as sklearn's `importances_std`) is narrower, and on a
market with no signal it called noise significant. Per-fold rows are kept for drift: when the
model is refit, does it look at other inputs?
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FoldAttribution:
    """What one fold's model relied on, measured on that fold's out-of-sample windows only."""

    fold: int
    start: str                      # first predicted date (ISO)
    samples: int                    # labelled test windows scored by permutation (its weight)
    windows: int                    # test windows explained by gradients (their weight)
    base_mse: float                 # MSE of the fold's unshuffled forecasts
    # Permutation, groups = the features, then the lag blocks (see permutation.py):
    mse: np.ndarray                 # (repeats, groups) MSE increase with that group shuffled
    accuracy: np.ndarray            # (repeats, groups) directional-accuracy drop
    mse_var: np.ndarray             # (groups,) variance over windows of the change
    accuracy_var: np.ndarray        # (groups,)
    gradients: np.ndarray | None = None     # (window, features) mean |integrated gradient|
    coefficients: np.ndarray | None = None  # (window, features) standardised, linear models only
    group: str = "all"              # a global model's ticker, or "all" (pooled)


ARRAYS = ("mse", "accuracy", "mse_var", "accuracy_var", "gradients", "coefficients")


@dataclass
class Explanation:
    """Every fold's attributions with the names needed to read them.

    The tables pool every record; a global model that records per-ticker groups as well as the
    pooled one is read one group at a time (`for_group`).
    """

    features: list[str]
    blocks: list[tuple[int, int]]   # lag ranges, lag 1 = the window's last bar
    window: int
    folds: list[FoldAttribution] = field(default_factory=list)

    def for_group(self, group: str) -> Explanation:
        """The folds of one ticker of a global model ("all" = pooled)."""
        return Explanation(self.features, self.blocks, self.window,
                           [f for f in self.folds if f.group == group])

    def _permutation(self, metric: str, part: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pooled mean, its standard error over windows, and its spread over shuffle repeats."""
        folds = [f for f in self.folds
                 if f.samples > 0 and np.isfinite(getattr(f, metric)[:, part]).all()]
        width = len(range(*part.indices(len(self.features) + len(self.blocks))))
        if not folds:
            return (np.full(width, np.nan),) * 3
        n = np.array([f.samples for f in folds], dtype=float)
        per_repeat = np.einsum("f,frg->rg", n / n.sum(),
                               np.stack([getattr(f, metric)[:, part] for f in folds]))
        mean = per_repeat.mean(axis=0)
        fold_means = np.stack([getattr(f, metric)[:, part].mean(axis=0) for f in folds])
        within = np.stack([getattr(f, metric + "_var")[part] for f in folds])
        total = (n[:, None] * (within + (fold_means - mean) ** 2)).sum(axis=0) / n.sum()
        shuffle = (per_repeat.std(axis=0, ddof=1) if len(per_repeat) > 1
                   else np.zeros_like(mean))
        return mean, np.sqrt(total / n.sum()), shuffle

    def base_mse(self) -> float:
        """The unshuffled forecasts' MSE over every scored window (to read increases in %)."""
        folds = [f for f in self.folds if f.samples > 0 and np.isfinite(f.base_mse)]
        n = sum(f.samples for f in folds)
        return sum(f.samples * f.base_mse for f in folds) / n if n else float("nan")

    def _gradient_grid(self, name: str = "gradients") -> np.ndarray:
        """(window, features) window-weighted mean over folds (NaN if no fold has one)."""
        rows = [(f.windows, getattr(f, name)) for f in self.folds if getattr(f, name) is not None]
        if not rows:
            return np.full((self.window, len(self.features)), np.nan)
        weights = np.array([w for w, _ in rows], dtype=float)
        return np.einsum("f,ftk->tk", weights / weights.sum(), np.stack([a for _, a in rows]))

    def importance(self) -> pd.DataFrame:
        """One row per feature; rank 1 = largest MSE increase when shuffled."""
        features = slice(0, len(self.features))
        mse, mse_error, shuffle = self._permutation("mse", features)
        accuracy, accuracy_error, _ = self._permutation("accuracy", features)
        frame = pd.DataFrame({
            "feature": self.features,
            "permutation_mse_increase": mse, "permutation_std": mse_error,
            "direction_accuracy_drop": accuracy,
            "integrated_gradients": self._gradient_grid().sum(axis=0),
        })
        key = frame["permutation_mse_increase"]
        if key.isna().all():
            key = frame["integrated_gradients"]
        frame["rank"] = key.rank(ascending=False, method="first").astype("Int64")
        frame["direction_accuracy_std"], frame["shuffle_std"] = accuracy_error, shuffle
        frame["permutation_mse_increase_pct"] = 100 * mse / self.base_mse()
        return frame.sort_values("rank").reset_index(drop=True)

    def lag_blocks(self) -> pd.DataFrame:
        """One row per lag block: permutation of every feature at those lags, and their gradients."""
        blocks = slice(len(self.features), None)
        mse, mse_error, shuffle = self._permutation("mse", blocks)
        accuracy, accuracy_error, _ = self._permutation("accuracy", blocks)
        by_lag = self._gradient_grid().sum(axis=1)[::-1]  # index l-1 = lag l
        return pd.DataFrame({
            "lags": [block_label(b) for b in self.blocks],
            "permutation_mse_increase": mse, "permutation_std": mse_error,
            "direction_accuracy_drop": accuracy, "direction_accuracy_std": accuracy_error,
            "integrated_gradients": [by_lag[a - 1:b].sum() for a, b in self.blocks],
            "shuffle_std": shuffle, "permutation_mse_increase_pct": 100 * mse / self.base_mse(),
        })

    def lags(self) -> pd.DataFrame:
        """Feature x lag: mean |integrated gradient| (and the standardised coefficient if linear)."""
        grid = self._gradient_grid()
        lags = self.window - np.arange(self.window)  # position t holds lag window - t
        frame = pd.DataFrame({
            "feature": np.tile(self.features, self.window),
            "lag": np.repeat(lags, len(self.features)),
            "integrated_gradients": grid.reshape(-1),
        })
        if any(f.coefficients is not None for f in self.folds):
            frame["coefficient"] = self._gradient_grid("coefficients").reshape(-1)
        return frame.sort_values(["feature", "lag"], key=_feature_order(self.features)
                                 ).reset_index(drop=True)

    def by_fold(self) -> pd.DataFrame:
        """Feature x fold, for drift: each refit's importances and its share of the gradients."""
        rows = []
        for f in self.folds:
            grads = (f.gradients.sum(axis=0) if f.gradients is not None
                     else np.full(len(self.features), np.nan))
            total = np.nansum(grads)
            for k, name in enumerate(self.features):
                rows.append({"fold": f.fold, "start": f.start, "samples": f.samples,
                             "feature": name,
                             "permutation_mse_increase": f.mse[:, k].mean(),
                             "direction_accuracy_drop": f.accuracy[:, k].mean(),
                             "integrated_gradients": grads[k],
                             "integrated_gradients_share": grads[k] / total if total > 0 else np.nan})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """Plain lists for JSON (the forecast cache keeps attributions beside the forecasts)."""
        folds = [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(f).items()}
                 for f in self.folds]
        return {"features": self.features, "blocks": [list(b) for b in self.blocks],
                "window": self.window, "folds": folds}

    @classmethod
    def from_dict(cls, data: dict) -> Explanation:
        folds = [FoldAttribution(**{k: (np.asarray(v, dtype=float) if k in ARRAYS and v is not None
                                        else v) for k, v in f.items()})  # type: ignore[arg-type]
                 for f in data["folds"]]
        return cls(list(data["features"]), [tuple(b) for b in data["blocks"]], int(data["window"]),
                   folds)


def block_label(block: tuple[int, int]) -> str:
    """"1" for a single lag, "2-5" for a range."""
    return str(block[0]) if block[0] == block[1] else f"{block[0]}-{block[1]}"


def _feature_order(features: list[str]):
    order = {name: i for i, name in enumerate(features)}
    return lambda col: col.map(order) if col.name == "feature" else col
