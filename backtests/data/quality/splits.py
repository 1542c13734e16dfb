"""Unadjusted splits told apart from market moves by their evidence, not by the size of the move.

A one-day move within `split_tolerance` of a split ratio (3:2 is x0.667, 2:1 x0.5, 1:10 x10) that
lasts is a candidate. A crash after earnings or a takeover jump can land that close to a ratio too;
what a split has and they lack is scored, a point or two each way:
- the close: a split day's close is the ratio times an ordinary day's move, so it lies within two
  robust daily deviations of the ratio (+1); further off, it is more than a split (-1);
- the open gaps by the ratio as well (+1), or not (-1);
- the share volume steps by the inverse ratio and stays there (+1: a 2:1 split doubles it); it keeps
  its level or moves the other way (-1); a spike on the day, three times the level a split would
  give, is a market move's mark (-2); a constant or missing volume column says nothing;
- with Adj Close: a jump in Adj Close while Close itself is continuous is a step in the file's own
  adjustment, not a split of the shares (-2); a file whose Adj Close adjusts splits elsewhere (its
  Close jumps by a ratio and Adj Close / Close undoes it) but left this move in, did not see a
  split here (-1).
A score of 2 or more calls the move a split, and `data.quality.splits` applies to it (fail, repair,
warn). Where the volume column says nothing (constant or missing), the prices alone can reach it: a
close and an open that both fit the exact ratio within two daily deviations are what the issue
calls a split's own evidence, and the default `fail` then stops with a hint (`splits=warn` runs
across it). Anything less is a near-ratio move: only ever a warning, each piece of evidence in its
words.
The checks read up to SETTLE + AFTER sessions after the move (volume has to settle). By default a
called split stops the run, so nothing is computed across it. `splits=repair` back-adjusts the
earlier bars by a constant (as a split adjustment does: no return before the move changes), but
the decision to repair reads those later sessions: in a live run a split is repaired only once
that evidence is in, and forecasts made in the weeks after the move on a file loaded before then
saw the move itself (docs/data.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

from backtests.data.quality.policy import Finding, QualityPolicy, QualityReport
from backtests.data.quality.prices import OHLC, centred_sigma, robust_sigma

SPLIT_RATIOS = (1.5, 2, 3, 4, 5, 7, 8, 10, 15, 20, 25, 30, 50)
CALLED = 2          # evidence score from which a near-ratio move is called a split
PRICE_FIT = 2.0     # robust daily deviations a split day's close or open may lie off the ratio
SPIKE = 3.0         # volume on the day over the level a split would give: a market move's spike
STEP = np.log(1.25)  # how near (in log) volume after the move must be to a level to match it
BEFORE, SETTLE, AFTER = 20, 5, 20  # sessions of volume: before, skipped after, compared after


def split_name(ratio: float) -> str:
    """'2:1 split' for a halving, '1:10 reverse split' for a tenfold rise."""
    if ratio < 1:
        f = Fraction(1 / ratio).limit_denominator(4)
        return f"{f.numerator}:{f.denominator} split"
    f = Fraction(ratio).limit_denominator(4)
    return f"{f.denominator}:{f.numerator} reverse split"


@dataclass
class Evidence:
    """What speaks for and against a split at one near-ratio move."""

    at: int
    ratio: float
    move: float
    score: int = 0
    reasons: list[str] = field(default_factory=list)
    adjustment_step: bool = False  # the jump lies in Adj Close alone

    def add(self, points: int, reason: str) -> None:
        self.score += points
        self.reasons.append(reason)

    @property
    def is_split(self) -> bool:
        return self.score >= CALLED

    def text(self, date: pd.Timestamp) -> str:
        verdict = ("the evidence calls it a split" if self.is_split else
                   "a step of the file's Adj Close, not a split: left as it is" if self.adjustment_step
                   else "treated as a market move")
        return (f"{date.date()}: x{self.move:.3f} near a {split_name(self.ratio)}: "
                f"{', '.join(self.reasons)} (score {self.score:+d}): {verdict}")


def near_ratio_moves(frame: pd.DataFrame, policy: QualityPolicy,
                     sigma: np.ndarray) -> list[tuple[int, float]]:
    """(position, ratio) of one-day close moves within `split_tolerance` of a ratio that last."""
    close = frame["Close"].to_numpy()
    logc = np.log(close)
    ratios = np.array([r for s in SPLIT_RATIOS for r in (s, 1 / s)])
    moves = close[1:] / close[:-1]
    found: list[tuple[int, float]] = []
    for i in (np.flatnonzero((moves >= 1.45) | (moves <= 1 / 1.45)) + 1).tolist():  # 3:2 is x0.667
        move = close[i] / close[i - 1]
        if abs(np.log(move)) < policy.spike_z * sigma[i]:
            continue  # a price step of a coarse old price, not an event
        before = logc[max(0, i - 1 - policy.max_spike_bars):i - 1] - logc[i]
        if np.any(np.abs(before) < 0.5 * abs(np.log(move))):
            continue  # back to an earlier level: the end of a spike, not a new one
        near = ratios[np.abs(move / ratios - 1) < policy.split_tolerance]
        later = logc[i:i + policy.max_spike_bars + 1] - logc[i - 1]
        if len(near) and np.all(np.abs(later) > 0.5 * abs(np.log(move))):
            found.append((i, float(near[0])))
    return found


def _price_fit(evidence: Evidence, name: str, value: float, sigma: float) -> None:
    off = value / evidence.ratio - 1
    deviations = abs(np.log1p(off)) / sigma
    if deviations <= PRICE_FIT:
        evidence.add(1, f"{name} x{value:.3f} fits the ratio ({off:+.1%})")
    else:
        evidence.add(-1, f"{name} x{value:.3f} off the ratio by {off:+.1%} "
                         f"({deviations:.1f} daily deviations)")


def _volume(evidence: Evidence, volume: np.ndarray) -> None:
    i, expected = evidence.at, 1 / evidence.ratio
    before = volume[max(0, i - BEFORE):i]
    before = before[before > 0]
    if len(before) < 5 or np.ptp(before) == 0:
        evidence.reasons.append("volume says nothing (missing or constant)")
        return
    level = float(np.median(before))
    day = volume[i] / (level * expected)
    if day >= SPIKE:
        settled = next((k for k in range(1, SETTLE + 1) if i + k < len(volume)
                        and volume[i + k] < 0.5 * SPIKE * level * expected), None)
        fade = (f"fades within {settled} day{'s' if settled > 1 else ''}" if settled
                else f"is still high after {SETTLE} days" if i + SETTLE < len(volume)
                else "is the file's last days: too soon to see it fade")
        evidence.add(-2, f"volume spike x{volume[i] / level:.1f} on the day that {fade}")
    after = volume[i + SETTLE:i + SETTLE + AFTER]
    after = after[after > 0]
    if len(after) < 5:
        evidence.reasons.append("too few sessions after it to see volume settle")
        return
    step = float(np.median(after)) / level
    to_split, to_same = abs(np.log(step / expected)), abs(np.log(step))
    if to_split <= STEP and to_split < to_same:
        evidence.add(1, f"volume steps x{step:.2f} and stays (near x{expected:.2f}, the inverse of "
                        "the ratio)")
    elif to_same <= STEP or (step > 1) != (expected > 1):
        evidence.add(-1, f"volume x{step:.2f} after, not x{expected:.2f} as shares split by the "
                         "ratio would give")
    else:
        evidence.reasons.append(f"volume x{step:.2f} after (a split gives x{expected:.2f})")


def adjusted_splits(close: np.ndarray, factor: np.ndarray, tolerance: float) -> list[int]:
    """Positions where the file's Close moves by a split ratio and Adj Close / Close undoes it."""
    ratios = np.array([r for s in SPLIT_RATIOS for r in (s, 1 / s)])
    raw = close / factor
    with np.errstate(invalid="ignore", divide="ignore"):
        moves, steps = raw[1:] / raw[:-1], factor[1:] / factor[:-1]
        near = np.abs(moves[:, None] / ratios[None, :] - 1) < tolerance
        undone = np.abs(moves * steps - 1) < tolerance
    return (np.flatnonzero(near.any(axis=1) & undone) + 1).tolist()


def _adjustment(evidence: Evidence, factor: np.ndarray, close: np.ndarray, index: pd.Index,
                tolerance: float) -> None:
    """What the file's own Adj Close says: a step of its factor alone, or splits it adjusts elsewhere."""
    i = evidence.at
    step = factor[i] / factor[i - 1]
    if not np.isfinite(step):
        return
    raw = evidence.move / step
    if abs(np.log(raw)) < 0.5 * abs(np.log(evidence.move)):
        evidence.add(-2, f"Close itself moves x{raw:.3f}")
        evidence.adjustment_step = True
        return
    known = adjusted_splits(close, factor, tolerance)
    if known:
        evidence.add(-1, f"the file's Adj Close adjusts the split(s) of "
                         f"{', '.join(str(index[k].date()) for k in known[:3])} but not this move")


def weigh(frame: pd.DataFrame, at: int, ratio: float, sigma: float,
          factor: np.ndarray | None, tolerance: float) -> Evidence:
    """The evidence for and against a split at bar `at` (frame in adjusted prices)."""
    close, open_ = frame["Close"].to_numpy(), frame["Open"].to_numpy()
    evidence = Evidence(at, ratio, float(close[at] / close[at - 1]))
    _price_fit(evidence, "close", evidence.move, sigma)
    _price_fit(evidence, "open gap", float(open_[at] / close[at - 1]), sigma)
    _volume(evidence, frame["Volume"].to_numpy())
    if factor is not None:
        _adjustment(evidence, factor, close, frame.index, tolerance)
    return evidence


def check_splits(frame: pd.DataFrame, policy: QualityPolicy, report: QualityReport,
                 adjusted: bool | None, factor: pd.Series | None = None) -> pd.DataFrame:
    """Near-ratio moves weighed for a split; `repair` scales the bars before a called split.

    `factor` is the file's Adj Close / Close on each bar (None without Adj Close).
    """
    if policy.splits == "off" or len(frame) < 2:
        return frame
    sigma = robust_sigma(frame["Close"], policy.mad_window)
    early = min(len(frame), min(20, policy.mad_window // 2 + 1) + 1)  # too few returns before them:
    sigma[:early] = centred_sigma(frame["Close"])[:early]  # the weeks around measure those bars
    factors = factor.reindex(frame.index).to_numpy() if factor is not None else None
    weighed = [weigh(frame, i, r, float(sigma[i]), factors, policy.split_tolerance)
               for i, r in near_ratio_moves(frame, policy, sigma)]
    splits = [e for e in weighed if e.is_split]
    moves = [e for e in weighed if not e.is_split]
    if moves:
        report.add(Finding("splits", "near-ratio move", [frame.index[e.at] for e in moves],
                           "; ".join(e.text(frame.index[e.at]) for e in moves[:5]), "warn"))
    if not splits:
        return frame
    why = ("Adj Close does not show it" if adjusted else
           "the file has no Adj Close column to tell a split from a real move")
    out = frame.copy()
    repair = policy.splits == "repair"
    if repair:
        for e in splits:
            for column in OHLC:
                out.iloc[:e.at, out.columns.get_loc(column)] *= e.ratio
            out.iloc[:e.at, out.columns.get_loc("Volume")] /= e.ratio
    done = "earlier bars scaled by the split ratio (volume by its inverse)" if repair else ""
    report.add(Finding("splits", "unadjusted split", [frame.index[e.at] for e in splits],
                       "; ".join(e.text(frame.index[e.at]) for e in splits[:5]) + f"; {why}",
                       policy.splits, done))
    return out
