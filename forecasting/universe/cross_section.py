"""Cross-sectional skill, scored as qlib's SigAnaRecord scores it: does the forecast rank tomorrow?

Per day, over the tickers with a forecast and a known outcome (at least MIN_NAMES of them): IC, the
Pearson correlation of forecast and next-day return, and Rank IC, the Spearman correlation. Their
means over days, standard deviations, ICIR (mean / std) and t-statistics (mean / std * sqrt(days);
daily ICs are close to independent for one-day returns, so the plain t-test is a fair first look),
and the next-day return spread between the top and the bottom `quantile` of forecasts. The same for
every baseline column, so "IC 0.02" always sits beside what ridge and plain reversal reach.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

MIN_NAMES = 3  # a correlation over fewer tickers than this says nothing


def daily_ic(long: pd.DataFrame, column: str = "forecast") -> pd.DataFrame:
    """Per date: ic, rank_ic, spread (top minus bottom quantile) and names, from long-form rows."""
    rows = long.dropna(subset=[column, "actual"])
    counts = rows.groupby("date")["actual"].transform("size")
    rows = rows[counts >= MIN_NAMES]
    if rows.empty:
        return pd.DataFrame(columns=["ic", "rank_ic", "names"])
    by_date = rows.groupby("date")
    ic = by_date[[column, "actual"]].corr().xs(column, level=1)["actual"]
    ranks = rows.assign(f=by_date[column].rank(), a=by_date["actual"].rank())
    rank_ic = ranks.groupby("date")[["f", "a"]].corr().xs("f", level=1)["a"]
    return pd.DataFrame({"ic": ic, "rank_ic": rank_ic, "names": by_date.size()})


def quantile_spread(long: pd.DataFrame, column: str = "forecast", quantile: float = 0.2) -> pd.Series:
    """Per date: mean next-day return of the top `quantile` of forecasts minus the bottom one's."""
    rows = long.dropna(subset=[column, "actual"])

    def spread(day: pd.DataFrame) -> float:
        if len(day) < MIN_NAMES:
            return math.nan
        k = max(1, int(len(day) * quantile))
        ordered = day.sort_values(column, kind="stable")["actual"].to_numpy()
        return float(ordered[-k:].mean() - ordered[:k].mean())

    return rows.groupby("date")[[column, "actual"]].apply(spread).dropna()


def mean_test(series: pd.Series) -> dict[str, float]:
    values = series.dropna().to_numpy(dtype=float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n > 1 else math.nan
    t = mean / std * math.sqrt(n) if n > 1 and std > 0 else math.nan
    from scipy import stats  # here: the settings check imports MIN_NAMES, not SciPy (~0.6 s)

    p = float(2 * stats.t.sf(abs(t), df=n - 1)) if math.isfinite(t) else math.nan
    return {"mean": mean, "std": std, "ratio": mean / std if std and std > 0 else math.nan,
            "t": t, "p": p}


def summarise(long: pd.DataFrame, column: str = "forecast", quantile: float = 0.2) -> dict:
    """The cross-section block of one forecast column: means, ICIR, t-statistics, spread, days."""
    daily = daily_ic(long, column)
    ic, rank = mean_test(daily["ic"]), mean_test(daily["rank_ic"])
    spread = mean_test(quantile_spread(long, column, quantile))
    return {"ic": ic["mean"], "ic_std": ic["std"], "icir": ic["ratio"], "ic_t": ic["t"],
            "ic_pvalue": ic["p"], "rank_ic": rank["mean"], "rank_ic_std": rank["std"],
            "rank_icir": rank["ratio"], "rank_ic_t": rank["t"], "rank_ic_pvalue": rank["p"],
            "top_bottom_spread": spread["mean"], "top_bottom_spread_t": spread["t"],
            "spread_quantile": quantile, "days": int(len(daily)),
            "names_per_day": float(daily["names"].mean()) if len(daily) else math.nan}


def ic_by_fold(long: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean daily IC and Rank IC per walk-forward fold (a date's fold: its most common one).

    Only days with at least MIN_NAMES scored names count; a fold without one is left out, and with
    none at all the table is empty (never an error: a thin cross-section is not a bug).
    """
    fold = long.groupby("date")["fold"].agg(lambda f: int(f.mode().iloc[0]))
    table: dict[str, pd.Series] = {}
    for column in columns:
        daily = daily_ic(long, column)
        folds = fold.reindex(pd.DatetimeIndex(daily.index))
        table[f"{column}_ic"] = daily["ic"].groupby(folds.to_numpy()).mean()
        table[f"{column}_rank_ic"] = daily["rank_ic"].groupby(folds.to_numpy()).mean()
        if "days" not in table:  # the model's scored days (the first column's)
            dates = pd.Series(pd.DatetimeIndex(daily.index), index=daily.index)
            table["days"] = dates.groupby(folds.to_numpy()).size()
            table["start"] = dates.groupby(folds.to_numpy()).min().map(lambda d: d.date().isoformat())
    out = pd.DataFrame(table, columns=list(table))
    out.index.name = "fold"
    return out


def adjust_pvalues(pvalues: list[float]) -> dict[str, list[float]]:
    """Holm (family-wise error) and Benjamini-Hochberg (false discovery rate) adjusted p-values.

    NaN p-values (a ticker without a test) stay NaN and do not count in the family.
    """
    p = np.asarray(pvalues, dtype=float)
    holm, bh = np.full_like(p, np.nan), np.full_like(p, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    if m:
        order = valid[np.argsort(p[valid], kind="stable")]
        sorted_p = p[order]
        holm[order] = np.minimum(1.0, np.maximum.accumulate(sorted_p * (m - np.arange(m))))
        raw_bh = sorted_p * m / np.arange(1, m + 1)
        bh[order] = np.minimum(1.0, np.minimum.accumulate(raw_bh[::-1])[::-1])
    return {"holm": holm.tolist(), "bh": bh.tolist()}
