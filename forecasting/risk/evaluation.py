"""VaR backtests: exceedances, Kupiec, Christoffersen, the quantile loss, Diebold-Mariano.

Every method is judged on the same days by the same statistics, computed from the columns of
var.csv alone (a test recomputes them independently from that file). An exceedance is a day whose
realised log return is below minus the VaR. Likelihood ratios use 0 * log(0) = 0, so zero
exceedances, all exceedances and sequences without a transition out of an exceedance are handled.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from forecasting.risk.distributions import column, tail
from forecasting.scoring import diebold_mariano_loss

BACKTEST_COLUMNS = ["asset", "method", "level", "days", "exceedances", "kupiec_p",
                    "christoffersen_ind_p", "christoffersen_cc_p", "quantile_loss"]


def kupiec(hits: np.ndarray, p: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures LR test: (statistic, chi-square(1) p-value)."""
    n, x = len(hits), int(np.sum(hits))
    if n == 0:
        return (math.nan, math.nan)
    null = xlogy(n - x, 1 - p) + xlogy(x, p)
    alternative = xlogy(n - x, 1 - x / n) + xlogy(x, x / n)
    lr = max(0.0, -2 * float(null - alternative))
    return (lr, float(stats.chi2.sf(lr, 1)))


def transitions(hits: np.ndarray) -> tuple[int, int, int, int]:
    """(n00, n01, n10, n11): counts of day-to-day moves between no exceedance (0) and one (1)."""
    h = np.asarray(hits, dtype=int)
    before, after = h[:-1], h[1:]
    return tuple(int(np.sum((before == i) & (after == j))) for i in (0, 1) for j in (0, 1))  # type: ignore[return-value]


def christoffersen_independence(hits: np.ndarray) -> tuple[float, float]:
    """Christoffersen's LR test that an exceedance today does not make one tomorrow likelier."""
    if len(hits) < 2:
        return (math.nan, math.nan)
    n00, n01, n10, n11 = transitions(hits)
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    null = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    alternative = (xlogy(n00, 1 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1 - pi11)
                   + xlogy(n11, pi11))
    lr = max(0.0, -2 * float(null - alternative))
    return (lr, float(stats.chi2.sf(lr, 1)))


def christoffersen_conditional(hits: np.ndarray, p: float) -> tuple[float, float]:
    """Conditional coverage: Kupiec's LR plus the independence LR, chi-square(2)."""
    lr_pof, _ = kupiec(hits, p)
    lr_ind, _ = christoffersen_independence(hits)
    if math.isnan(lr_pof) or math.isnan(lr_ind):
        return (math.nan, math.nan)
    lr = lr_pof + lr_ind
    return (lr, float(stats.chi2.sf(lr, 2)))


def quantile_loss(realised: np.ndarray, var: np.ndarray, level: float) -> np.ndarray:
    """Pinball loss of the return quantile -VaR at tail probability a: (a - 1{r < q}) (r - q)."""
    a, q = tail(level), -np.asarray(var, dtype=np.float64)
    r = np.asarray(realised, dtype=np.float64)
    return (a - (r < q)) * (r - q)


def backtest_table(frame: pd.DataFrame, levels: Sequence[float], asset: str) -> pd.DataFrame:
    """var_backtests.csv from var.csv's columns: one row per method and level.

    Days without a realised return (the last bar) are left out.
    """
    rows = []
    known = frame.dropna(subset=["realised"])
    for method, part in known.groupby("method", sort=False):
        r = part["realised"].to_numpy()
        for level in levels:
            var = part[column("var", level)].to_numpy()
            hits = r < -var
            rows.append({"asset": asset, "method": method, "level": level, "days": len(r),
                         "exceedances": int(hits.sum()), "kupiec_p": kupiec(hits, tail(level))[1],
                         "christoffersen_ind_p": christoffersen_independence(hits)[1],
                         "christoffersen_cc_p": christoffersen_conditional(hits, tail(level))[1],
                         "quantile_loss": float(np.mean(quantile_loss(r, var, level)))})
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


def risk_block(frame: pd.DataFrame, table: pd.DataFrame, levels: Sequence[float],
               model: str = "lstm", baselines: Sequence[str] = ("historical", "ewma", "garch"),
               significance: float = 0.05) -> dict[str, Any]:
    """metrics.json's `risk` block: the backtests by method and level, the best baseline by
    quantile loss, the DM test of the model's quantile loss against it, and a verdict."""
    block: dict[str, Any] = {"returns": "daily log returns of the close; VaR and ES as positive losses",
                             "levels": list(levels), "methods": {}, "comparison": {}}
    for row in table.to_dict("records"):
        stats_row = {k: row[k] for k in BACKTEST_COLUMNS[3:]}
        stats_row["exceedance_rate"] = row["exceedances"] / row["days"] if row["days"] else math.nan
        stats_row["expected_rate"] = tail(row["level"])
        stats_row["passes"] = bool(row["kupiec_p"] >= significance
                                   and row["christoffersen_cc_p"] >= significance)
        block["methods"].setdefault(row["method"], {})[column("var", row["level"])] = stats_row
    known = frame.dropna(subset=["realised"])
    present = [b for b in baselines if b in set(known["method"])]
    for level in levels:
        key = column("var", level)
        losses = {m: block["methods"][m][key]["quantile_loss"] for m in block["methods"]}
        lowest = min(losses, key=lambda m: losses[m]) if losses else None
        entry: dict[str, Any] = {"lowest_quantile_loss": lowest}
        if model in losses and present:
            best = min(present, key=lambda b: losses[b])
            d = (_losses(known, model, level) - _losses(known, best, level))
            stat, p = diebold_mariano_loss(d)
            entry.update({"best_baseline": best, "dm_statistic": stat, "dm_pvalue": p})
        block["comparison"][key] = entry
    block["verdict"] = verdict(block, model, significance)
    return block


def _losses(known: pd.DataFrame, method: str, level: float) -> np.ndarray:
    part = known[known["method"] == method]
    return quantile_loss(part["realised"].to_numpy(), part[column("var", level)].to_numpy(), level)


def verdict(block: dict[str, Any], model: str, significance: float) -> str:
    """One sentence per level: who passes both coverage tests, who has the lowest quantile loss."""
    sentences = []
    for key, entry in block["comparison"].items():
        passing = [m for m, by in block["methods"].items() if by[key]["passes"]]
        text = (f"{key.replace('var_', 'VaR ')}%: {', '.join(passing) or 'no method'} "
                f"pass{'es' if len(passing) <= 1 else ''} Kupiec and Christoffersen at "
                f"{100 * significance:g}%; lowest quantile loss: {entry['lowest_quantile_loss']}")
        p = entry.get("dm_pvalue", math.nan)
        if math.isfinite(p):
            side = "below" if entry["dm_statistic"] < 0 else "above"
            text += f"; {model}'s loss is {side} {entry['best_baseline']}'s (DM p={p:.3g})"
        sentences.append(text + ".")
    return " ".join(sentences)
