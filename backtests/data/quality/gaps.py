"""Checks against the exchange's calendar: missing sessions (gaps) and stale data (repeated bars).

A gap is a run of sessions the exchange held that the file does not have; holidays and real
closures (2001-09-11 to 09-14, 2012-10-29/30) are not sessions, so they are never gaps. A short gap
is kept as it is (inventing prices would be worse), but under `repair` the forecast whose next-day
return spans it is left out of the forecast scores. A gap longer than `max_gap` sessions cannot be
repaired: one "daily" return would span months, so the run stops and names the date to start after.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.quality.calendar import Sessions
from backtests.data.quality.policy import Finding, QualityPolicy, QualityReport


def missing_runs(days: np.ndarray, expected: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) positions in `expected` of each run of sessions absent from `days`."""
    absent = np.flatnonzero(~np.isin(expected, days))
    if not len(absent):
        return []
    breaks = np.flatnonzero(np.diff(absent) != 1)
    starts = np.concatenate([[absent[0]], absent[breaks + 1]])
    ends = np.concatenate([absent[breaks], [absent[-1]]])
    return list(zip(starts.tolist(), ends.tolist()))


def _span(first: np.datetime64, last: np.datetime64, count: int) -> str:
    return f"{first} to {last} ({count} sessions)" if count > 1 else f"{first} (1 session)"


def check_gaps(frame: pd.DataFrame, sessions: Sessions, policy: QualityPolicy,
               report: QualityReport) -> None:
    """Report missing sessions and bars on closed days; mark or refuse gaps by the policy."""
    if policy.gaps == "off":
        return
    days = frame.index.to_numpy().astype("datetime64[D]")
    name = sessions.exchange
    usable = sessions.usable
    if days[0] < usable[0]:
        report.notes.append(f"bars before {sessions.first.date()} are not checked for gaps: the "
                            f"{name} calendar models holidays from there on")
    if days[-1] > sessions.days[-1]:
        report.notes.append(f"bars after {sessions.last.date()} are not checked for gaps: the "
                            f"{name} calendar ends there")
    lo, hi = max(days[0], usable[0]), min(days[-1], sessions.days[-1])
    if lo > hi:
        return
    expected = sessions.between(pd.Timestamp(lo), pd.Timestamp(hi))
    inside = days[(days >= lo) & (days <= hi)]
    closed = inside[~np.isin(inside, expected)]
    report.add(Finding("gaps", "bar on a day the exchange was closed", list(pd.to_datetime(closed)),
                       f"not a {name} session (a weekend, a holiday or a shifted date)",
                       "fail" if policy.gaps == "fail" else "warn"))
    runs = missing_runs(inside, expected)
    long = [(a, b) for a, b in runs if b - a + 1 > policy.max_gap]
    short = [(a, b) for a, b in runs if b - a + 1 <= policy.max_gap]
    for group, kind in ((long, f"gap of more than {policy.max_gap} sessions"),
                        (short, f"gap of {policy.max_gap} sessions or fewer")):
        if not group:
            continue
        spans = "; ".join(_span(expected[a], expected[b], b - a + 1) for a, b in group[:5])
        more = f" and {len(group) - 5} more" if len(group) > 5 else ""
        total = sum(b - a + 1 for a, b in group)
        detail = f"{total} {name} session(s) missing: {spans}{more}"
        action, done, resume = policy.gaps, "", None
        if group is long:
            a, b = group[-1]
            months = (expected[b] - expected[a]).astype(int) / 30.4
            detail += f"; one 'daily' return would span {months:.0f} months"
            if action == "repair":
                action = "fail"  # nothing honest can fill months of missing prices
            after = days[days > expected[b]]
            resume = pd.Timestamp(after[0]) if len(after) else None
        elif action == "repair":
            before = [days[days < expected[a]][-1] for a, _ in group if (days < expected[a]).any()]
            report.unscored.extend(pd.to_datetime(before))
            done = (f"prices kept as they are; the {len(before)} forecast(s) made just before a gap, "
                    "whose next-day return spans it, are left out of the forecast scores")
        report.add(Finding("gaps", kind, [pd.Timestamp(expected[a]) for a, _ in group], detail,
                           action, done, resume))


def sessions_between(sessions: Sessions, after: pd.Timestamp, until: pd.Timestamp) -> int:
    """Sessions after `after` up to `until`; business days where the calendar ends."""
    if until <= after:
        return 0
    known = sessions.between(after + pd.Timedelta(days=1), min(until, sessions.last))
    beyond = len(pd.bdate_range(sessions.last + pd.Timedelta(days=1), until)) if until > sessions.last else 0
    return len(known) + beyond


def check_stale(frame: pd.DataFrame, policy: QualityPolicy, report: QualityReport) -> None:
    """Runs of identical bars and zero-volume bars (the last bar's age: age.py)."""
    if policy.stale == "off":
        return
    ohlc = frame[["Open", "High", "Low", "Close"]].to_numpy()
    same = np.zeros(len(frame), dtype=bool)
    same[1:] = (ohlc[1:] == ohlc[:-1]).all(axis=1)
    repeats = _long_runs(same, policy.stale_bars - 1)
    report.add(Finding("stale", f"{policy.stale_bars} or more identical bars in a row",
                       list(frame.index[repeats]), "Open, High, Low and Close repeat the bar before "
                       "(a feed that stopped updating)", policy.stale))
    zero = frame["Volume"].to_numpy() == 0
    report.add(Finding("stale", "zero volume", list(frame.index[zero]),
                       "no shares traded: a holiday row, a halted stock or a filled-in bar",
                       policy.stale))


def _long_runs(flags: np.ndarray, length: int) -> np.ndarray:
    """Positions of True values that sit in runs of at least `length` Trues."""
    if length <= 0 or not flags.any():
        return np.flatnonzero(flags) if length <= 0 else np.array([], dtype=int)
    padded = np.concatenate([[False], flags, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    keep = [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2]) if b - a >= length]
    return np.concatenate(keep) if keep else np.array([], dtype=int)
