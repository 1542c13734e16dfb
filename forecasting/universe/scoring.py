"""The universe's skill: per ticker against persistence, corrected for testing many tickers, and
across tickers per day (IC, Rank IC) beside the ridge and reversal baselines.

"3 of 30 beat persistence at p < 0.05" is what chance gives about one time in five; the Holm and
Benjamini-Hochberg adjusted p-values say how many survive once the number of tickers is counted.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.scoring import score_forecasts
from forecasting.universe.cross_section import (
    adjust_pvalues,
    daily_ic,
    ic_by_fold,
    mean_test,
    summarise,
)

BASELINES = ("ridge", "reversal", "drift")
ALPHA = 0.05


def scored_rows(long: pd.DataFrame) -> pd.DataFrame:
    """The rows every score uses: a known outcome, and not marked unscored (a data gap)."""
    keep = long["actual"].notna()
    if "scored" in long:
        keep &= long["scored"].astype(bool)
    return long[keep]


def per_ticker_scores(long: pd.DataFrame, closes: Mapping[str, pd.Series],
                      forecasts_returns: bool = True) -> tuple[dict, dict]:
    """({ticker: figures}, summary): MSE against persistence, DM test and adjusted p-values.

    When the forecasts are rank scores (`forecasts_returns` False) errors in return units mean
    nothing; each ticker then gets only its time-series correlation of forecast and outcome.
    """
    rows, pvalues = {}, []
    for ticker, part in scored_rows(long).groupby("ticker"):
        frame = part.set_index("date")
        record = {"samples": int(len(frame)),
                  "ts_corr": float(frame["forecast"].corr(frame["actual"]))}
        if forecasts_returns:
            block = score_forecasts(frame[["forecast", "actual", "fold", "ridge"]], closes[ticker])
            record.update({
                "mse": block["mse"], "persistence_mse": block["persistence"]["mse"],
                "mse_ratio": block["mse"] / block["persistence"]["mse"],
                "ridge_mse_ratio": block["ridge"]["mse"] / block["persistence"]["mse"],
                "dm_statistic": block["dm_statistic"], "dm_pvalue": block["dm_pvalue"],
                "directional_accuracy": block["directional_accuracy"],
                "up_share": block["persistence"]["directional_accuracy"]})
        rows[str(ticker)] = record
        pvalues.append(record.get("dm_pvalue", math.nan))
    adjusted = adjust_pvalues(pvalues)
    for record, holm, bh in zip(rows.values(), adjusted["holm"], adjusted["bh"], strict=True):
        better = record.get("mse_ratio", math.inf) < 1
        record.update({"dm_pvalue_holm": holm, "dm_pvalue_bh": bh,
                       "beats_persistence": bool(better and record.get("dm_pvalue", 1) < ALPHA),
                       "beats_persistence_holm": bool(better and holm < ALPHA),
                       "beats_persistence_bh": bool(better and bh < ALPHA)})
    return rows, _ticker_summary(rows, forecasts_returns)


def _ticker_summary(rows: dict, forecasts_returns: bool) -> dict:
    n = len(rows)
    count = lambda key: int(sum(r.get(key, False) for r in rows.values()))  # noqa: E731
    raw, holm, bh = count("beats_persistence"), count("beats_persistence_holm"), count("beats_persistence_bh")
    if not forecasts_returns:
        text = (f"The forecasts are cross-sectional rank scores: per-ticker errors against "
                f"persistence do not apply to the {n} tickers; judge them by the cross-section.")
    else:
        worse = int(sum(r["mse_ratio"] > 1 and r["dm_pvalue"] < ALPHA for r in rows.values()))
        text = (f"{raw} of {n} tickers beat persistence at p<{ALPHA} before correction; {holm} after "
                f"Holm's correction and {bh} after Benjamini-Hochberg's; {worse} "
                f"{'is' if worse == 1 else 'are'} significantly worse (uncorrected).")
    return {"tickers": n, "beat_persistence": raw, "beat_persistence_holm": holm,
            "beat_persistence_bh": bh, "verdict": text}


def cross_section_scores(long: pd.DataFrame, quantile: float = 0.2) -> tuple[dict, pd.DataFrame,
                                                                             pd.DataFrame]:
    """(cross_section block, daily IC table, IC by fold table) for the model and each baseline."""
    rows = scored_rows(long)
    columns = ["forecast", *[b for b in BASELINES if b in rows]]
    block = summarise(rows, "forecast", quantile)
    block["baselines"] = {b: summarise(rows, b, quantile) for b in columns[1:]}
    tests = [block["ic_pvalue"], *[block["baselines"][b]["ic_pvalue"] for b in columns[1:]]]
    holm = adjust_pvalues(tests)["holm"]
    block["ic_pvalue_holm"] = holm[0]
    for b, p in zip(columns[1:], holm[1:], strict=True):
        block["baselines"][b]["ic_pvalue_holm"] = p
    daily = pd.concat({c: daily_ic(rows, c)[["ic", "rank_ic"]] for c in columns}, axis=1)
    daily.columns = [f"{c}_{k}" if c != "forecast" else k for c, k in daily.columns]
    for b in columns[1:]:  # is the model's IC above the baseline's? paired over the same days
        test = mean_test(daily["ic"] - daily[f"{b}_ic"])
        block["baselines"][b].update({"model_minus_baseline_ic": test["mean"],
                                      "model_minus_baseline_ic_t": test["t"],
                                      "model_minus_baseline_ic_pvalue": test["p"]})
    block["verdict"] = _cross_verdict(block)
    folds = ic_by_fold(rows, columns)
    block["by_fold"] = [{"fold": int(f), **{k: _plain(v) for k, v in r.items()}}
                        for f, r in folds.iterrows()]
    return block, daily, folds


def _plain(value: object) -> object:
    return float(value) if isinstance(value, (float, np.floating)) else value


def _cross_verdict(block: dict) -> str:
    ic, t, p = block["ic"], block["ic_t"], block["ic_pvalue_holm"]
    if not math.isfinite(ic):
        return "Too few tickers with forecasts on the same days to score the cross-section."
    if p < ALPHA and ic > 0:
        head = f"The model ranks tomorrow's returns better than chance: mean daily IC {ic:.4f}"
    elif p < ALPHA:
        head = f"The model ranks tomorrow's returns worse than chance: mean daily IC {ic:.4f}"
    else:
        head = f"No cross-sectional skill: mean daily IC {ic:.4f} is not distinguishable from 0"
    text = (f"{head} (t={t:.2f}, Holm-adjusted p={p:.3g} over the model and its baselines; "
            f"Rank IC {block['rank_ic']:.4f}, ICIR {block['icir']:.3f}, {block['days']} days).")
    for name, base in block.get("baselines", {}).items():
        text += f" {name.capitalize()}: IC {base['ic']:.4f} (t={base['ic_t']:.2f})."
    if p < ALPHA and ic > 0:
        level = [n for n, b in block.get("baselines", {}).items()
                 if not b.get("model_minus_baseline_ic_pvalue", 0) < ALPHA]
        text += (f" But its IC is not significantly above that of {' or '.join(level)} (paired "
                 "daily difference, p>=0.05): it adds nothing shown over it."
                 if level else " Its IC is significantly above every baseline's (paired daily difference).")
    return text
