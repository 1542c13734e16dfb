"""The model zoo's scores, as qlib's benchmark table reports them, from long-form forecasts.

One fit (a model, a feature set, a seed) gives one row: IC, Rank IC and their IRs (mean / std of the
daily values), the top-k book's annualised excess return over the equal-weight universe and its
information ratio, the forecast's MSE as a multiple of persistence's (tomorrow's return forecast
as today's), and the training time. Fits of one model and feature set are then summarised over
seeds (mean and std, as qlib's table), and each model is compared with a baseline model on the
same feature set and days: the daily IC difference (each side averaged over seeds) tested with a
Newey-West variance (daily ICs cluster with volatility; forecasting/distribution/hac.py).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.distribution.hac import diebold_mariano, hac_lag
from forecasting.universe.cross_section import MIN_NAMES, adjust_pvalues, daily_ic

YEAR = 252
SCORES = ("ic", "icir", "rank_ic", "rank_icir", "topk_excess", "topk_ir", "mse_vs_persistence",
          "train_seconds")


def daily_scores(long: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """Per date: ic, rank_ic, and the top-k book's excess next-day return over the day's mean.

    `long` has date, ticker, forecast, actual (and `scored`: rows marked 0 are left out). A day
    with fewer than max(MIN_NAMES, top_k + 1) names has no top-k excess (a book of every name
    has none)."""
    rows = long[long["scored"] == 1] if "scored" in long else long
    rows = rows.dropna(subset=["forecast", "actual"])
    daily = daily_ic(rows)[["ic", "rank_ic"]]

    def excess(day: pd.DataFrame) -> float:
        if len(day) < max(MIN_NAMES, top_k + 1):
            return math.nan
        top = day.nlargest(top_k, "forecast", keep="first")["actual"]
        return float(top.mean() - day["actual"].mean())

    book = rows.groupby("date")[["forecast", "actual"]].apply(excess)
    return daily.join(book.rename("topk_excess"), how="left")


def fit_scores(long: pd.DataFrame, daily: pd.DataFrame, seconds: float,
               returns: bool = True) -> dict[str, float]:
    """One fit's row over the days of `daily` (daily_scores, possibly cut to common days).

    `returns`: the forecasts are returns (not cross-sectional ranks), so an MSE means something."""
    rows = long[long["scored"] == 1] if "scored" in long else long
    rows = rows[rows["date"].isin(daily.index)].dropna(subset=["forecast", "actual"])
    ic, rank = _ratio(daily["ic"]), _ratio(daily["rank_ic"])
    book = daily["topk_excess"].dropna()
    std = float(book.std(ddof=1)) if len(book) > 1 else math.nan
    mse = math.nan
    if returns and "reversal" in rows:  # reversal = minus today's return: persistence is its negative
        known = rows.dropna(subset=["reversal"])
        base = float(np.mean((-known["reversal"] - known["actual"]) ** 2))
        model = float(np.mean((known["forecast"] - known["actual"]) ** 2))
        mse = model / base if base > 0 else math.nan
    return {"days": int(len(daily)), "ic": ic[0], "icir": ic[1], "rank_ic": rank[0],
            "rank_icir": rank[1], "topk_excess": float(book.mean() * YEAR) if len(book) else math.nan,
            "topk_ir": float(book.mean() / std * math.sqrt(YEAR)) if std > 0 else math.nan,
            "mse_vs_persistence": mse, "train_seconds": float(seconds)}


def _ratio(series: pd.Series) -> tuple[float, float]:
    values = series.dropna()
    if values.empty:
        return math.nan, math.nan
    std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return float(values.mean()), float(values.mean() / std) if std > 0 else math.nan


def over_seeds(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, features): each score's mean and std over its seeds (`<score>_std`)."""
    grouped = runs.groupby(["model", "features"], sort=False)
    means = grouped[list(SCORES)].mean()
    stds = grouped[list(SCORES)].std(ddof=1).add_suffix("_std")
    counts = grouped["seed"].nunique().rename("seeds")
    days = grouped["days"].max()
    return pd.concat([counts, days, means, stds], axis=1).reset_index()


def against(daily: Mapping[tuple[str, str], pd.DataFrame], baseline: str) -> pd.DataFrame:
    """Each (model, features)'s daily IC and Rank IC minus the baseline model's on the same features
    and days, both averaged over seeds: mean difference, HAC t statistic and two-sided p, and the p
    Holm-adjusted over every comparison of the table (`_p_holm`): with many models against one, a
    raw p below 0.05 turns up by chance.

    `daily`: (model, features) -> daily scores averaged over seeds (index: date)."""
    rows = []
    for (model, features), mine in daily.items():
        other = daily.get((baseline, features))
        row: dict[str, object] = {"model": model, "features": features}
        for score in ("ic", "rank_ic"):
            if other is None or model == baseline:
                row.update({f"{score}_vs_base": math.nan, f"{score}_vs_base_t": math.nan,
                            f"{score}_vs_base_p": math.nan})
                continue
            d = (mine[score] - other[score]).dropna().to_numpy(dtype=float)
            stat, p = diebold_mariano(d, hac_lag(len(d), 1))
            row.update({f"{score}_vs_base": float(d.mean()) if len(d) else math.nan,
                        f"{score}_vs_base_t": stat, f"{score}_vs_base_p": p})
        rows.append(row)
    table = pd.DataFrame(rows)
    for score in ("ic", "rank_ic"):
        column = f"{score}_vs_base_p"
        if column in table:
            table[f"{column}_holm"] = adjust_pvalues(table[column].tolist())["holm"]
    return table
