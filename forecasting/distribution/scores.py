"""Proper scores of forecast distributions, per horizon and method, and one verdict per horizon.

Input: distribution.csv's long frame (date, horizon, method, mean, scale, df, realised); rows
whose realised h-session return is not known yet (NaN) are skipped. Every method is scored on
the same dates, those where the return is known and every method has a forecast, so their mean
scores compare like with like (a calm period scores lower for everyone); `dropped` counts the
known dates left out for a missing forecast. Per method: CRPS (scoringrules), pinball loss at
base.QUANTILES, coverage of the 50% and 90% central intervals with a HAC z-test of the nominal
rate, a KS test of uniform PIT on non-overlapping rows, the Brier score of P(up) against a
climatology known at the time (calibration.py) with a HAC DM test and a reliability table. The
model's per-day CRPS is tested against the best baseline's (lowest mean CRPS) by Diebold-Mariano
with a Newey-West variance (hac.py: Bartlett kernel, lag max(2 (h - 1), floor(4 (n/100)^(2/9)))).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scoringrules

from forecasting.distribution.base import QUANTILES, p_up, quantile_name, quantiles
from forecasting.distribution.calibration import (
    expanding_up_share,
    pit,
    pit_uniformity,
    reliability_table,
)
from forecasting.distribution.hac import coverage_test, diebold_mariano, hac_lag

REQUIRED = ("date", "horizon", "method", "mean", "scale", "df", "realised")
CLIMATOLOGY = "p_up_climatology"  # optional column: the climatological P(up) known at each date
INTERVALS: Mapping[str, tuple[float, float]] = {"50": (0.25, 0.75), "90": (0.05, 0.95)}


def row_crps(mean: np.ndarray, scale: np.ndarray, df: np.ndarray, realised: np.ndarray) -> np.ndarray:
    """Each row's CRPS: scoringrules' crps_t, or crps_normal where df is infinite."""
    mean, scale, df, y = (np.asarray(a, dtype=np.float64) for a in (mean, scale, df, realised))
    out = np.empty(len(y))
    gauss = np.isinf(df)
    out[gauss] = scoringrules.crps_normal(y[gauss], mean[gauss], scale[gauss])
    t = ~gauss
    out[t] = scoringrules.crps_t(y[t], df[t], mean[t], scale[t])
    return out


def pinball(realised: np.ndarray, quantile: np.ndarray, level: float) -> np.ndarray:
    """The quantile (pinball) loss of each row: level * (y - q) above q, (1 - level) * (q - y) below."""
    diff = np.asarray(realised, dtype=np.float64) - np.asarray(quantile, dtype=np.float64)
    return np.maximum(level * diff, (level - 1) * diff)


def score_distributions(frame: pd.DataFrame, model: str = "lstm", significance: float = 0.05,
                        labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """metrics.json's `distribution` block: {"h1": {...}, "h5": {...}, ...}, JSON-safe.

    Each horizon holds n, dropped, hac_lag, the scores of every method, the model's comparison
    with the best baseline (when both are there) and a verdict sentence. A p_up_climatology
    column, when present, is the climatology for the Brier skill; otherwise it is the expanding
    share of up moves among the frame's realised returns known at each date. `labels` name the
    methods in the verdicts (e.g. {"garch": "GARCH-t"}); the keys stay the frame's names.
    """
    long = _validated(frame)
    out = {}
    for h, part in long.groupby("horizon", sort=True):
        block = _score_horizon(part, int(h), model)
        block["verdict"] = verdict(block, model, significance, labels)
        out[f"h{int(h)}"] = block
    return out


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    if "date" not in frame.columns and frame.index.name == "date":
        frame = frame.reset_index()
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"distribution frame lacks column(s) {', '.join(missing)}")
    long = frame.copy()
    long["date"] = pd.to_datetime(long["date"])
    if long.duplicated(["date", "horizon", "method"]).any():
        raise ValueError("distribution frame has more than one row per date, horizon and method")
    finite = long[["mean", "scale", "df"]].notna().all(axis=1)
    bad = finite & ((long["scale"] <= 0) | (long["df"] <= 1))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} forecast(s) with scale <= 0 or df <= 1 "
                         "(the CRPS needs a positive scale and a finite mean)")
    realised = long.groupby(["horizon", "date"])["realised"]
    if ((realised.max() - realised.min()).fillna(0) > 1e-12).any():
        raise ValueError("the realised return differs between methods on the same date and horizon")
    return long.sort_values(["horizon", "date", "method"]).reset_index(drop=True)


def _score_horizon(part: pd.DataFrame, horizon: int, model: str) -> dict[str, Any]:
    realised = part.groupby("date")["realised"].first().sort_index()  # every date of the horizon
    if CLIMATOLOGY in part.columns:
        climatology = part.groupby("date")[CLIMATOLOGY].first().reindex(realised.index)
        source = "the p_up_climatology column"
    else:  # noisier: the first test dates know few targets (a Laplace 1/2 at the start)
        climatology = pd.Series(expanding_up_share(realised.to_numpy(), horizon), realised.index)
        source = "the share of up moves among the frame's targets realised by each date"
    usable = part.dropna(subset=["mean", "scale", "df"])
    methods = sorted(set(usable["method"]), key=lambda m: (m != model, m))
    unscored = sorted(set(part["method"]) - set(methods))  # not one forecast at this horizon
    known = realised.dropna().index
    common = known
    for method in methods:
        common = common.intersection(pd.Index(usable.loc[usable["method"] == method, "date"]))
    common = common.sort_values()
    n = len(common)
    block: dict[str, Any] = {"horizon": horizon, "n": n, "dropped": int(len(known) - n),
                             "hac_lag": hac_lag(n, horizon), "climatology": source, "methods": {},
                             "unscored": unscored}
    if n == 0:
        return block
    y, clim = realised.reindex(common).to_numpy(), climatology.reindex(common).to_numpy()
    losses = {}
    for method in methods:
        rows = usable[usable["method"] == method].set_index("date").reindex(common)
        block["methods"][method], losses[method] = _method_scores(rows, y, clim, horizon,
                                                                  block["hac_lag"])
    baselines = [m for m in methods if m != model]
    if model in methods and baselines:
        best = min(baselines, key=lambda m: block["methods"][m]["crps"])
        stat, p = diebold_mariano(losses[model] - losses[best], block["hac_lag"])
        block["comparison"] = {"best_baseline": best,
                               "crps_ratio": _ratio(block["methods"][model]["crps"],
                                                    block["methods"][best]["crps"]),
                               "dm_statistic": stat, "dm_pvalue": p}
    return block


def _method_scores(rows: pd.DataFrame, y: np.ndarray, clim: np.ndarray, horizon: int,
                   lag: int) -> tuple[dict[str, Any], np.ndarray]:
    """One method's scores on the common dates, and its per-day CRPS for the DM test."""
    crps = row_crps(rows["mean"], rows["scale"], rows["df"], y)
    q = quantiles(rows)
    scores: dict[str, Any] = {"n": int(len(y)), "crps": float(crps.mean()),
                              "pinball": {quantile_name(level): float(np.mean(pinball(
                                  y, q[quantile_name(level)].to_numpy(), level)))
                                  for level in QUANTILES}}
    scores["coverage"] = {}
    for name, (low, high) in INTERVALS.items():
        hits = ((q[quantile_name(low)].to_numpy() <= y)
                & (y <= q[quantile_name(high)].to_numpy())).astype(np.float64)
        nominal = round(high - low, 6)  # 0.9, not 0.8999999999999999, in metrics.json
        z, p = coverage_test(hits, nominal, lag)
        scores["coverage"][name] = {"rate": float(hits.mean()), "nominal": nominal,
                                    "z": z, "p": p}
    scores["pit"] = pit_uniformity(pit(rows["mean"], rows["scale"], rows["df"], y), horizon)
    prob, up = p_up(rows).to_numpy(), (y > 0).astype(np.float64)
    brier, brier_clim = (prob - up) ** 2, (clim - up) ** 2
    stat, p = diebold_mariano(brier - brier_clim, lag)
    scores.update({"brier": float(brier.mean()), "brier_climatology": float(brier_clim.mean()),
                   "brier_skill": 1 - _ratio(float(brier.mean()), float(brier_clim.mean())),
                   "brier_dm_statistic": stat, "brier_dm_pvalue": p,
                   "reliability": reliability_table(prob, up)})
    return scores, crps


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def verdict(block: dict[str, Any], model: str, significance: float = 0.05,
            labels: Mapping[str, str] | None = None) -> str:
    """One sentence on a horizon: CRPS against the best baseline, 90% coverage, PIT, direction."""
    h, lag, methods = block["horizon"], block["hac_lag"], block["methods"]
    if not methods:
        return (f"{h}-session: nothing to score (no date with a realised {h}-session return and "
                "a forecast from every method).")
    name = (lambda m: labels.get(m, m)) if labels else (lambda m: m)
    comparison = block.get("comparison")
    if comparison:
        subject, best, p = model, name(comparison["best_baseline"]), comparison["dm_pvalue"]
        change = 100 * (comparison["crps_ratio"] - 1)
        if comparison["dm_statistic"] == 0:
            crps = f"{name(model)}'s CRPS equals {best}'s, the best baseline: no difference"
        else:
            side = "lower" if change < 0 else "higher"
            size = f"{abs(change):.1f}" if abs(change) >= 0.05 else "<0.1"
            crps = f"{name(model)}'s CRPS is {size}% {side} than {best}'s, the best baseline"
            crps += (": significantly " + ("better" if change < 0 else "worse")
                     if p < significance else ": not a significant difference")
        crps += f" (DM p={_p(p)}, HAC lag {lag})"
    else:
        subject = min(methods, key=lambda m: methods[m]["crps"])
        crps = (f"{name(model)}'s CRPS is {methods[model]['crps']:.3g} with no baseline to compare"
                if subject == model else f"no {name(model)} forecast; {name(subject)} has the lowest CRPS")
    scores = methods[subject]
    cover = scores["coverage"]["90"]
    text = f"{h}-session: {crps}; {name(subject)}'s 90% interval covers {100 * cover['rate']:.1f}%"
    shape = ""
    if cover["p"] < significance:
        shape = ": too wide" if cover["rate"] > cover["nominal"] else ": too narrow"
    text += f" (p={_p(cover['p'])}{shape}); PIT uniform p={_p(scores['pit']['p'])}"
    skill, p = scores["brier_skill"], scores["brier_dm_pvalue"]
    if p < significance and skill > 0:
        direction = "skill in direction"
    elif p < significance and skill < 0:
        direction = "worse than climatology in direction"
    else:
        direction = "no skill in direction"
    return (text + f"; P(up) Brier skill {100 * skill:+.1f}% against climatology "
            f"(p={_p(p)}): {direction}.")
