"""A market-sentiment index from a universe's forecasts, and the tests it has to pass to count.

Each close the model forecasts every ticker's next-day log return. Read together they are one
opinion about the market: `breadth`, the share of tickers forecast to rise (forecast > dead_band),
`bearish`, the share forecast to fall (< -dead_band), `net_breadth` = breadth - bearish (a
diffusion index in [-1, 1]; tickers inside the dead band count as neither), the mean forecast and
the cross-sectional dispersion. Every value at date t is built from that day's forecasts only.

An index that looks like the market proves nothing: the judge asks whether it forecasts the
equal-weight universe's NEXT day and week beyond chance and beyond a no-information forecast.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from forecasting.scoring import diebold_mariano, wilson_interval
from forecasting.universe.cross_section import adjust_pvalues

SIGNALS = ("breadth", "mean_forecast")
INDEX_COLUMNS = ("breadth", "bearish", "net_breadth", "mean_forecast", "dispersion", "tickers")
MIN_PAST = 20  # days of known outcomes before the past-only regression makes its first forecast
ALPHA = 0.05
LABELS = {"day_pearson": "next-day Pearson correlation", "day_spearman": "next-day Spearman correlation",
          "week_pearson": "next-week Pearson correlation",
          "week_spearman": "next-week Spearman correlation",
          "dm_regression": "DM test of its past-only regression forecast",
          "dm_direct": "DM test of the forecast itself"}
NAMES = {"breadth": "breadth", "mean_forecast": "the mean forecast"}  # as the verdict names them


@dataclass(kw_only=True)
class SentimentSettings:
    """conf/sentiment (each default there): the dead band, the judged horizon, the regime filter."""

    bounds: ClassVar[dict[str, str]] = {
        "enabled": "bool", "dead_band": "number >= 0", "week": "int >= 1",
        "min_tickers": "int >= 1", "regime_filter": "bool",
        "regime_threshold": "0 <= number <= 1", "regime_low": "0 <= number <= 1"}

    enabled: bool
    dead_band: float
    week: int
    min_tickers: int
    regime_filter: bool
    regime_threshold: float
    regime_low: float

    def evaluate(self, long: pd.DataFrame, closes: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
        """(sentiment table: index and outcomes by date, the judge's block) for one universe run."""
        index = sentiment_index(long, self.dead_band, self.min_tickers)
        table = sentiment_outcomes(index, closes, self.week)
        return table, judge_sentiment(table, self.week)

    def scale(self, index: pd.DataFrame) -> pd.Series | None:
        """The regime filter's exposure scale by date, or None when the filter is off."""
        if not self.regime_filter:
            return None
        return regime_scale(index, self.regime_threshold, self.regime_low)


def sentiment_index(long: pd.DataFrame, dead_band: float = 0.0005, min_tickers: int = 3) -> pd.DataFrame:
    """Per date: breadth, bearish, net_breadth, mean_forecast, dispersion, tickers.

    Shares are over the tickers with a finite forecast that day. Dispersion is the population
    standard deviation (ddof=0): the day's cross-section is all there is, not a sample. The
    `scored` flag is ignored on purpose: it says whether the NEXT bar spans a gap, which is not
    known at the close. Days with fewer than `min_tickers` forecasts are dropped.
    """
    forecast = pd.to_numeric(long["forecast"], errors="coerce")
    rows = pd.DataFrame({"date": pd.to_datetime(long["date"]), "forecast": forecast})
    rows = rows[np.isfinite(rows["forecast"].to_numpy(dtype=float))]
    rows = rows.assign(up=(rows["forecast"] > dead_band).astype(float),
                       down=(rows["forecast"] < -dead_band).astype(float))
    by_date = rows.groupby("date")
    table = pd.DataFrame({"breadth": by_date["up"].mean(), "bearish": by_date["down"].mean(),
                          "mean_forecast": by_date["forecast"].mean(),
                          "dispersion": by_date["forecast"].std(ddof=0),
                          "tickers": by_date.size()})
    table.insert(2, "net_breadth", table["breadth"] - table["bearish"])
    table = table[table["tickers"] >= min_tickers].sort_index()
    table["tickers"] = table["tickers"].astype(int)
    table.index.name = "date"
    return table


def sentiment_outcomes(index: pd.DataFrame, closes: pd.DataFrame, week: int = 5) -> pd.DataFrame:
    """The index with what it is judged on: next_day_return, next_week_return, realised_breadth,
    and index_level (the equal-weight index up to the close of date, 1 at the first date).

    Returns are simple, close to next close on the closes' calendar, averaged over the tickers
    with both closes; the week compounds the next `week` daily EW returns (NaN if any is unknown).
    """
    closes = closes.sort_index()
    forward = closes.shift(-1) / closes - 1  # NaN unless the ticker has both closes
    known = forward.notna()
    next_day = forward.mean(axis=1, skipna=True).where(known.any(axis=1))
    realised = (forward > 0).astype(float).where(known).mean(axis=1, skipna=True)
    growth = np.log1p(next_day).rolling(week, min_periods=week).sum().shift(-(week - 1))
    level = (1 + next_day.shift(1).fillna(0.0)).cumprod()  # return realised at t is known at t
    out = index.copy()
    dates = out.index
    out["next_day_return"] = next_day.reindex(dates).to_numpy()
    out["next_week_return"] = np.expm1(growth).reindex(dates).to_numpy()
    out["realised_breadth"] = realised.reindex(dates).to_numpy()
    level = level.reindex(dates)
    out["index_level"] = (level / level.iloc[0]).to_numpy() if len(level) else level.to_numpy()
    return out


def regime_scale(index: pd.DataFrame, threshold: float = 0.5, low: float = 0.5) -> pd.Series:
    """Date -> exposure scale: 1.0 when breadth >= threshold, `low` otherwise (known at the close)."""
    scale = np.where(index["breadth"].to_numpy(dtype=float) >= threshold, 1.0, float(low))
    return pd.Series(scale, index=index.index, name="regime_scale")


def _correlations(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman with scipy's p-values; NaN when fewer than 3 points or no variation."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"pearson": math.nan, "pearson_p": math.nan, "spearman": math.nan,
                "spearman_p": math.nan, "samples": int(len(x))}
    pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
    return {"pearson": float(pearson[0]), "pearson_p": float(pearson[1]),
            "spearman": float(spearman[0]), "spearman_p": float(spearman[1]),
            "samples": int(len(x))}


def past_only_forecasts(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(regression forecast, expanding-mean forecast) of y[t] from rows before t only.

    Rows are days in date order; y[s] (the return after day s) is known at the close of every
    later day, so day t may fit on rows s < t. The regression is OLS of y on x; the benchmark is
    the mean of the past y, the no-information forecast. NaN until MIN_PAST rows are known.
    """
    n = np.arange(len(y), dtype=float)
    past = lambda v: np.concatenate([[0.0], np.cumsum(v)])[:len(v)]  # noqa: E731
    sx, sy, sxx, sxy = past(x), past(y), past(x * x), past(x * y)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_x, mean_y = sx / n, sy / n
        var_x = sxx / n - mean_x**2
        flat = var_x <= 1e-12 * np.maximum(sxx / n, 1e-300)  # no variation yet: slope 0
        beta = np.where(flat, 0.0, (sxy / n - mean_x * mean_y) / np.where(flat, 1.0, var_x))
        model = mean_y + beta * (x - mean_x)
    early = n < MIN_PAST
    return np.where(early, np.nan, model), np.where(early, np.nan, mean_y)


def _dm(forecast: np.ndarray, benchmark: np.ndarray, y: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(forecast) & np.isfinite(benchmark)
    f, b, a = forecast[ok], benchmark[ok], y[ok]
    stat, p = diebold_mariano(f - a, b - a)
    return {"dm_statistic": stat, "dm_pvalue": p, "dm_days": int(ok.sum()),
            "mse": float(np.mean((f - a) ** 2)) if len(a) else math.nan,
            "benchmark_mse": float(np.mean((b - a) ** 2)) if len(a) else math.nan}


def _signal_block(table: pd.DataFrame, signal: str, week: int) -> dict[str, Any]:
    day = table[[signal, "next_day_return"]].dropna()
    x, y = day[signal].to_numpy(dtype=float), day["next_day_return"].to_numpy(dtype=float)
    weekly = table[[signal, "next_week_return"]].dropna().iloc[::week]  # windows never overlap
    block: dict[str, Any] = {f"day_{k}": v for k, v in _correlations(x, y).items()}
    block.update({f"week_{k}": v for k, v in _correlations(
        weekly[signal].to_numpy(dtype=float), weekly["next_week_return"].to_numpy(dtype=float)).items()})
    call_up = x > (0.5 if signal == "breadth" else 0.0)
    hits = int(np.sum(call_up == (y > 0)))
    block.update({"hit_rate": hits / len(y) if len(y) else math.nan,
                  "hit_ci95": list(wilson_interval(hits, len(y))),
                  "up_share": float(np.mean(y > 0)) if len(y) else math.nan})
    model, benchmark = past_only_forecasts(x, y)
    block["regression"] = _dm(model, benchmark, y)
    if signal == "mean_forecast":  # the model's own number, as an EW simple return
        block["direct"] = _dm(np.where(np.isfinite(benchmark), np.expm1(x), np.nan), benchmark, y)
    return block


def _family(signals: dict[str, dict]) -> list[tuple[str, str, float, float]]:
    """(signal, test, p-value, direction: > 0 when the index points the right way) of every test."""
    tests = []
    for name, b in signals.items():
        for key in ("day_pearson", "day_spearman", "week_pearson", "week_spearman"):
            tests.append((name, key, b[f"{key}_p"], b[key]))
        for kind in ("regression", "direct"):
            if kind in b:
                tests.append((name, f"dm_{kind}", b[kind]["dm_pvalue"], -b[kind]["dm_statistic"]))
    return tests


def judge_sentiment(table: pd.DataFrame, week: int = 5) -> dict[str, Any]:
    """Does the index forecast the market? Correlations, hit rates, DM tests, and a verdict.

    Week correlations use non-overlapping samples (every `week`-th day with a known week), so
    scipy's p-values hold. The DM tests compare squared errors of next_day_return forecasts with
    the expanding mean of past EW returns; every p-value is Holm-adjusted over the whole family.
    """
    known = table.dropna(subset=["next_day_return"])
    signals = {s: _signal_block(table, s, week) for s in SIGNALS}
    tests = _family(signals)
    holm = adjust_pvalues([p for _, _, p, _ in tests])["holm"]
    adjusted = {f"{s}.{t}": p for (s, t, _, _), p in zip(tests, holm)}
    agree = known[["breadth", "realised_breadth"]].dropna()
    corr = _correlations(agree["breadth"].to_numpy(dtype=float),
                         agree["realised_breadth"].to_numpy(dtype=float))
    same = (agree["breadth"] > 0.5) == (agree["realised_breadth"] > 0.5)
    block: dict[str, Any] = {
        "days": int(len(known)), "week": int(week),
        "weeks": int(signals["breadth"]["week_samples"]),
        "up_share": float(np.mean(known["next_day_return"] > 0)) if len(known) else math.nan,
        "signals": signals, "pvalues_holm": adjusted, "tests": len(tests),
        "realised_breadth": {"pearson": corr["pearson"], "pearson_p": corr["pearson_p"],
                             "same_side": float(same.mean()) if len(same) else math.nan,
                             "days": int(len(agree))}}
    block["verdict"] = _verdict(block, tests, holm)
    return block


def _verdict(block: dict, tests: list, holm: list[float]) -> str:
    """One sentence: what survives Holm's correction, and the up/down call against 'always up'.

    Skill is a positive correlation or smaller errors than the past mean; a negative correlation
    is a contrarian reading; larger errors than the past mean are no skill at all.
    """
    if block["days"] < 3:
        return "Too few days with a known next-day return to judge the sentiment index."
    b = block["signals"]["breadth"]
    call = (f"breadth's up/down call is right on {100 * b['hit_rate']:.1f}% of {block['days']} days "
            f"against {100 * block['up_share']:.1f}% for always guessing up")
    n = len(tests)
    survivors = [(p, s, t, d) for (s, t, _, d), p in zip(tests, holm) if p < ALPHA]
    skill = sorted(x for x in survivors if x[3] > 0)
    contrary = sorted(x for x in survivors if x[3] < 0 and not x[2].startswith("dm_"))
    worse = sorted(x for x in survivors if x[3] < 0 and x[2].startswith("dm_"))
    if skill:
        p, s, t, _ = skill[0]
        found = (f"{len(skill)} of {n} tests find{'s' if len(skill) == 1 else ''} skill after Holm's "
                 f"correction, the strongest being {NAMES.get(s, s)}'s {LABELS[t]} (adjusted "
                 f"p={p:.3g})")
        if any(x[2].startswith("dm_") for x in skill):
            return f"The index carries information about the market: {found}; {call}."
        return (f"The index carries information about the market, but only as a correlation: {found}, "
                f"yet no Diebold-Mariano test finds its forecasts of the next day better than the "
                f"past mean; {call}.")
    if contrary:
        p, s, t, _ = contrary[0]
        return ("The index points the wrong way (a contrarian reading at best): "
                f"{NAMES.get(s, s)}'s {LABELS[t]} "
                f"is negative (adjusted p={p:.3g}, Holm over {n} tests); {call}.")
    best = min((p for p in holm if math.isfinite(p)), default=math.nan)
    text = (f"There is no evidence the index forecasts the market: none of {n} tests finds skill "
            f"after Holm's correction (smallest adjusted p={best:.3g})")
    if worse:
        p, s, t, _ = worse[0]
        text += (f", and {NAMES.get(s, s)}'s {LABELS[t]} shows larger errors than the past mean "
                 f"(adjusted p={p:.3g})")
    return f"{text}; {call}."
