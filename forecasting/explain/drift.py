"""Drift of attributions across refits: does the model keep looking at the same inputs?

Read from the feature x fold table (`Explanation.by_fold`), using the integrated-gradient shares:
a fold's permutation importance rests on ~21 forecasts and is mostly noise, while its gradients
describe the fitted model itself, which is what changes when it is refit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

STABLE, MOSTLY = 0.75, 0.5  # share of refits the overall leader leads, for each word


def drift_summary(folds: pd.DataFrame) -> dict:
    """Leader, how often it leads, consecutive-refit rank correlation, the most variable feature.

    `stability` is worded from how often the overall leader (largest mean share) leads a refit;
    the rank correlation of consecutive refits covers all features, and is lowered by the days
    each fold explains as much as by the refit itself.
    """
    share = folds.pivot(index="fold", columns="feature", values="integrated_gradients_share")
    share = share[list(dict.fromkeys(folds["feature"]))].dropna()
    if share.empty:
        return {"folds": 0}
    starts = folds.drop_duplicates("fold").set_index("fold")["start"]
    leader = share.mean().idxmax()
    top = share.idxmax(axis=1)
    ranks = share.rank(axis=1).to_numpy()
    rhos = [np.corrcoef(a, b)[0, 1] for a, b in zip(ranks[:-1], ranks[1:])
            if np.std(a) > 0 and np.std(b) > 0]
    rho = float(np.mean(rhos)) if rhos else float("nan")
    switches = [{"fold": int(f), "start": str(starts[f]), "from": before, "to": after}
                for f, before, after in zip(top.index[1:], top.iloc[:-1], top.iloc[1:])
                if before != after]
    moving = share.std().idxmax() if len(share) > 1 else leader
    led = float((top == leader).mean())
    word = ("too few refits to tell" if len(share) < 3 else "stable" if led >= STABLE
            else "mostly stable" if led >= MOSTLY else "not stable")
    return {"folds": len(share), "leader": leader, "leader_share": float(share[leader].mean()),
            "leader_folds": int((top == leader).sum()), "rank_correlation": rho,
            "switches": switches, "most_variable": moving,
            "most_variable_range": [float(share[moving].min()), float(share[moving].max())],
            "stability": word}
