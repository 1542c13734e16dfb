"""Per-ticker models' attributions combined into the shape a global universe model records.

A per-ticker universe run fits one walk-forward per ticker, so each ticker has its own single-run
Explanation (group "all"). The universe's files are read from one Explanation holding a pooled
group ("all") and one group per ticker, as `forecasting/universe/explain.py` records for the global
model; `over_tickers` builds that from the tickers' own.

Per ticker: the ticker's records unchanged, relabelled with its name, so its rows are exactly what
a single run of that ticker writes. Pooled: the records of every ticker refit on the same date are
merged into one, weighted by size as `Explanation` pools folds (every scored forecast counts once),
and the variance over windows is merged by the law of total variance. The pooled tables are then the
same figures as pooling every ticker's folds directly, and the feature x fold table (drift) keeps
one row per refit date and feature. Refits are numbered by date; on a shared calendar that is each
ticker's own fold number.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from forecasting.explain.aggregate import Explanation, FoldAttribution


def over_tickers(explanations: Mapping[str, Explanation]) -> Explanation | None:
    """Pooled ("all": one record per refit date) and per-ticker groups, or None if none has folds."""
    named = {t: e for t, e in sorted(explanations.items()) if e.folds}
    if not named:
        return None
    first = next(iter(named.values()))
    for ticker, explanation in named.items():
        if (explanation.features, explanation.blocks, explanation.window) != (
                first.features, first.blocks, first.window):
            raise ValueError(f"{ticker}'s attributions have other inputs than "
                             f"{next(iter(named))}'s: they cannot be pooled")
    records = [f for e in named.values() for f in e.folds]
    starts = sorted({f.start for f in records})
    pooled = [_merge(number, [f for f in records if f.start == start])
              for number, start in enumerate(starts)]
    own = [replace(f, group=t) for t, e in named.items() for f in e.folds]
    return Explanation(first.features, first.blocks, first.window, pooled + own)


def _merge(number: int, records: Sequence[FoldAttribution]) -> FoldAttribution:
    """One record for several models' refits on the same date (a pooled fold)."""
    scored = [f for f in records if f.samples > 0
              and np.isfinite(f.mse).all() and np.isfinite(f.accuracy).all()]
    samples = sum(f.samples for f in scored)
    if scored:
        n = np.array([f.samples for f in scored], dtype=float) / samples
        mse, accuracy = (np.einsum("f,frg->rg", n, np.stack([getattr(f, m) for f in scored]))
                         for m in ("mse", "accuracy"))
        mse_var, accuracy_var = (_pooled_variance(n, scored, m, pooled.mean(axis=0))
                                 for m, pooled in (("mse", mse), ("accuracy", accuracy)))
        base_mse = float(n @ np.array([f.base_mse for f in scored]))
    else:
        mse = accuracy = np.full_like(records[0].mse, np.nan)
        mse_var = accuracy_var = np.full_like(records[0].mse_var, np.nan)
        base_mse = float("nan")
    return FoldAttribution(
        fold=number, start=records[0].start, samples=samples,
        windows=sum(f.windows for f in records), base_mse=base_mse, mse=mse, accuracy=accuracy,
        mse_var=mse_var, accuracy_var=accuracy_var, gradients=_weighted(records, "gradients"),
        coefficients=_weighted(records, "coefficients"))


def _pooled_variance(weights: np.ndarray, records: Sequence[FoldAttribution], metric: str,
                     mean: np.ndarray) -> np.ndarray:
    """Variance over all the records' windows: within each, plus its mean's spread around `mean`."""
    within = np.stack([getattr(f, metric + "_var") for f in records])
    means = np.stack([getattr(f, metric).mean(axis=0) for f in records])
    return np.einsum("f,fg->g", weights, within + (means - mean) ** 2)


def _weighted(records: Sequence[FoldAttribution], name: str) -> np.ndarray | None:
    """A grid averaged over the records that have it, each weighted by its explained windows."""
    rows = [(f.windows, getattr(f, name)) for f in records if getattr(f, name) is not None]
    if not rows:
        return None
    weights = np.array([w for w, _ in rows], dtype=float)
    return np.einsum("f,ftk->tk", weights / weights.sum(), np.stack([a for _, a in rows]))
