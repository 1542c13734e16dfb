"""The live record scored from the journal alone, apart from the backtest.

For each entry (made at the close of `as_of`) whose next sessions have since been filled in:
- forecast errors of the next-session log return against persistence (a zero log return, as in
  forecasting/scoring.py), and the hit rate (the forecast's sign against the outcome's); with a
  distribution forecaster the same per horizon h (its mean against log(close at t+h / close at t),
  P(up) > 1/2 against an up move);
- the strategy's live return on the next session: the exposure held at the close (`held`, signed
  fraction of equity) over the overnight move to the open, the target exposure from the open to the
  close, less commission and slippage on the change. It is an approximation of the engine's
  accounting (no share rounding, no stops inside the session), stated as such.
The N live sessions' compounded return is then placed in the distribution of the backtest's
compounded returns over every window of N consecutive sessions: is the live record consistent
with the backtest?
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

BAND = (0.05, 0.95)  # a live return outside this band of the backtest's windows is "unusual"


def outcome_closes(outcomes: Sequence[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """ticker -> the filled-in bars (open, close) by date, as first recorded."""
    frame = pd.DataFrame(list(outcomes), columns=["date", "ticker", "open", "close"])
    frame["date"] = pd.to_datetime(frame["date"])
    return {str(t): part.drop_duplicates("date").set_index("date").sort_index()[["open", "close"]]
            for t, part in frame.groupby("ticker")}


def sessions(entries: Sequence[dict[str, Any]], outcomes: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (entry, member, horizon) whose outcome is known: forecast, P(up), outcome."""
    bars = outcome_closes(outcomes)
    rows = []
    for entry in entries:
        as_of = pd.Timestamp(entry["as_of"])
        for member in entry["members"]:
            after = bars.get(member["ticker"])
            if after is None:
                continue
            after = after[after.index > as_of]
            horizons = member.get("horizons") or [{"h": 1, "mean": member["forecast"], "p_up": None}]
            for horizon in horizons:
                h = int(horizon["h"])
                if len(after) < h or member["last_close"] is None:
                    continue
                outcome = math.log(float(after["close"].iloc[h - 1]) / float(member["last_close"]))
                point = member["forecast"] if h == 1 else horizon["mean"]
                rows.append({"as_of": as_of, "ticker": member["ticker"], "h": h,
                             "forecast": np.nan if point is None else float(point),
                             "p_up": np.nan if horizon.get("p_up") is None else float(horizon["p_up"]),
                             "outcome": outcome})
    return pd.DataFrame(rows, columns=["as_of", "ticker", "h", "forecast", "p_up", "outcome"])


def live_returns(entries: Sequence[dict[str, Any]], outcomes: Sequence[dict[str, Any]]) -> pd.Series:
    """The strategy's approximate return on the session after each entry, by that session's date."""
    bars = outcome_closes(outcomes)
    returns: dict[pd.Timestamp, float] = {}
    for entry in entries:
        as_of, cost, total, when = pd.Timestamp(entry["as_of"]), float(entry.get("cost") or 0.0), 0.0, None
        for member in entry["members"]:
            after = bars.get(member["ticker"])
            after = None if after is None else after[after.index > as_of]
            held, target = float(member.get("held") or 0.0), float(member.get("target") or 0.0)
            if after is None or after.empty:
                if held or target:
                    break  # a position's outcome is not known yet: the session is not scored
                continue
            day, (open_, close) = after.index[0], after.iloc[0][["open", "close"]]
            when = day if when is None else max(when, day)
            overnight = float(open_) / float(member["last_close"]) - 1.0
            total += held * overnight + target * (float(close) / float(open_) - 1.0)
            total -= cost * abs(target - held)
        else:
            if when is not None:
                returns[when] = total
    return pd.Series(returns, dtype="float64").sort_index()


def error_figures(part: pd.DataFrame) -> dict[str, Any]:
    """MAE/RMSE of the forecast and of persistence, the MSE ratio, the hit rate, the up share."""
    known = part.dropna(subset=["forecast"])
    f, a = known["forecast"].to_numpy(), known["outcome"].to_numpy()
    if len(a) == 0:
        return {"n": 0}
    out = {"n": int(len(a)), "mae": float(np.mean(np.abs(f - a))),
           "rmse": float(np.sqrt(np.mean((f - a) ** 2))),
           "persistence_mae": float(np.mean(np.abs(a))),
           "persistence_rmse": float(np.sqrt(np.mean(a**2))),
           "hit_rate": float(np.mean(np.sign(f) == np.sign(a))),
           "up_share": float(np.mean(a > 0))}
    out["mse_ratio"] = (out["rmse"] ** 2 / out["persistence_rmse"] ** 2
                        if out["persistence_rmse"] > 0 else math.nan)
    p = part["p_up"].dropna()
    if len(p):
        out["p_up_hit_rate"] = float(np.mean((p > 0.5) == (part.loc[p.index, "outcome"] > 0)))
    return out


def against_backtest(live: pd.Series, backtest: pd.Series | None) -> dict[str, Any] | None:
    """Where the live compounded return falls among the backtest's N-session windows."""
    n = len(live)
    if backtest is None or n == 0:
        return None
    daily = backtest.dropna().iloc[1:]  # the first test close is the starting point, not a day
    if len(daily) < n:
        return None
    growth = np.log1p(daily.to_numpy())
    windows = np.expm1(np.convolve(growth, np.ones(n), mode="valid"))
    total = float(np.expm1(np.log1p(live.to_numpy()).sum()))
    share = float(np.mean(windows <= total))
    low, high = (float(np.quantile(windows, q)) for q in BAND)
    return {"sessions": n, "live_return": total, "windows": int(len(windows)),
            "backtest_median": float(np.median(windows)), "backtest_p05": low, "backtest_p95": high,
            "percentile": share, "consistent": bool(BAND[0] <= share <= BAND[1])}


def live_scores(entries: Sequence[dict[str, Any]], outcomes: Sequence[dict[str, Any]],
                backtest: pd.Series | None = None) -> dict[str, Any]:
    """The live block (live.json, report.html): from the journal alone, and against `backtest`'s
    daily strategy returns when given."""
    if not entries:
        return {"entries": 0}
    made = sessions(entries, outcomes)
    returns = live_returns(entries, outcomes)
    horizons = {f"h{h}": error_figures(part) for h, part in made.groupby("h")} if len(made) else {}
    block: dict[str, Any] = {
        "since": entries[0]["as_of"], "entries": len(entries), "last": entries[-1]["as_of"],
        "sessions": int(len(returns)), "forecast": horizons.get("h1", {"n": 0}),
        "horizons": horizons, "strategy_return": float(np.expm1(np.log1p(returns).sum())),
        "strategy_returns": {d.date().isoformat(): float(r) for d, r in returns.items()},
        "against_backtest": against_backtest(returns, backtest)}
    block["verdict"] = verdict(block)
    return block


def verdict(block: dict[str, Any]) -> str:
    """The live record in one or two sentences."""
    head = f"live since {block['since']}: {block['sessions']} sessions"
    f = block["forecast"]
    if not f.get("n"):
        return head + " (no outcome known yet)."
    text = (f"{head}; next-session forecast MAE {100 * f['mae']:.2f}% against persistence's "
            f"{100 * f['persistence_mae']:.2f}%, hit rate {100 * f['hit_rate']:.0f}% "
            f"({f['n']} forecasts, {100 * f['up_share']:.0f}% up sessions); strategy "
            f"{100 * block['strategy_return']:+.2f}%")
    against = block.get("against_backtest")
    if against:
        text += (f", at the {100 * against['percentile']:.0f}th percentile of the backtest's "
                 f"{against['windows']} windows of {against['sessions']} sessions ("
                 f"{'consistent with' if against['consistent'] else 'outside the 5-95% band of'} "
                 "the backtest)")
    return text + "."
