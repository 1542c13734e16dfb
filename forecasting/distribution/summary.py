"""A universe's distribution scores in one table per horizon: how the network did ticker by ticker.

Each ticker is scored on its own (forecasting/distribution/scores.py); across tickers the summary
counts, at each horizon, the tickers where the network's CRPS is significantly lower or higher than
its best baseline's (Diebold-Mariano at `significance`, HAC variance), the median CRPS ratio to each
baseline, the mean 90% coverage and how many tickers reject nominal coverage, how many reject a
uniform PIT, and the mean Brier skill against climatology. The tests are per ticker and are not
corrected across tickers: the counts are read against the share chance alone would give.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def summarise_tickers(blocks: Mapping[str, Mapping[str, Any]], model: str = "lstm",
                      significance: float = 0.05) -> dict[str, Any]:
    """{"h1": {...}, ...} from {ticker: score_distributions(that ticker's rows)}."""
    horizons = sorted({h for block in blocks.values() for h in block}, key=lambda h: int(h[1:]))
    return {h: _horizon(h, {t: b[h] for t, b in blocks.items() if h in b}, model, significance)
            for h in horizons}


def _horizon(key: str, scored: Mapping[str, Mapping[str, Any]], model: str,
             significance: float) -> dict[str, Any]:
    ratios: dict[str, list[float]] = {}
    better = worse = covered_off = pit_off = 0
    coverage, skill = [], []
    for block in scored.values():
        methods = block.get("methods", {})
        if model not in methods:
            continue
        own = methods[model]
        for name, scores in methods.items():
            if name != model and scores.get("crps"):
                ratios.setdefault(name, []).append(own["crps"] / scores["crps"])
        comparison = block.get("comparison") or {}
        p = comparison.get("dm_pvalue", math.nan)
        if p < significance:
            better += comparison["crps_ratio"] < 1
            worse += comparison["crps_ratio"] > 1
        coverage.append(own["coverage"]["90"]["rate"])
        covered_off += own["coverage"]["90"]["p"] < significance
        pit_off += own["pit"]["p"] < significance
        skill.append(own["brier_skill"])
    n = len(coverage)
    out = {"tickers": n, "significance": significance,
           "crps_ratio_median": {name: float(np.median(v)) for name, v in ratios.items()},
           "better_than_best_baseline": int(better), "worse_than_best_baseline": int(worse),
           "coverage_90_mean": float(np.mean(coverage)) if n else math.nan,
           "coverage_90_rejected": int(covered_off), "pit_rejected": int(pit_off),
           "brier_skill_mean": float(np.mean(skill)) if n else math.nan}
    out["verdict"] = _verdict(int(key[1:]), out)
    return out


def _verdict(horizon: int, s: Mapping[str, Any]) -> str:
    n = s["tickers"]
    if not n:
        return f"{horizon}-session: no ticker scored."
    chance = s["significance"] * n / 2
    best = max(s["crps_ratio_median"].items(), key=lambda kv: kv[1], default=None)
    return (f"{horizon}-session, {n} tickers: the LSTM's CRPS is significantly lower than its best "
            f"baseline's on {s['better_than_best_baseline']} and higher on "
            f"{s['worse_than_best_baseline']} (chance alone: about {chance:.1f} each way)"
            + (f"; its median CRPS ratio is {best[1]:.3f} against {best[0]}, the hardest" if best else "")
            + f"; its 90% interval covers {100 * s['coverage_90_mean']:.1f}% on average "
              f"({s['coverage_90_rejected']} tickers reject nominal coverage); PIT uniformity "
              f"rejected on {s['pit_rejected']}; mean Brier skill "
              f"{100 * s['brier_skill_mean']:+.1f}% against climatology.")
