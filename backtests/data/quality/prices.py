"""Checks on the shape of the prices: zero Opens, bad ticks and impossible bars (splits: splits.py).

Two rules look at jumps, for two different purposes:
- *reporting* (`find_spikes`) may look ahead: a jump of more than `spike_z` robust deviations that
  comes back within `max_spike_bars` sessions has the shape of a bad tick, and only the return
  trip proves it. A crash that does not come back (1987-10-19, 2020-03-16) is not flagged.
- *repairing* (`hold_jumps`) may not: it must decide about the bar of date t from bars up to t, or
  every forecast made on that date would have seen a future the model could not know. A bar whose
  close lies more than `repair_z` robust deviations from the last good close is held at that
  close, for at most `max_spike_bars` bars; if the price is still that far away afterwards, the
  move is accepted (and reported) as real. A jump made on heavy volume (`HEAVY` times the median of
  the sessions before, the bar's own volume, known at its close) is a real trade, not a bad tick: a
  crash after earnings or a takeover jump is never held, so no order fills at a price that never
  traded; it is noted, not counted as a defect.
The robust deviation at t is 1.4826 x the median absolute log return of the `mad_window` sessions
before t, so a spike cannot inflate its own yardstick.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.quality.policy import Finding, QualityPolicy, QualityReport

OHLC = ["Open", "High", "Low", "Close"]
MIN_SIGMA = 0.002     # a floor for very calm or stale stretches, where the median move is ~0
REVERSAL = 0.25       # a spike is over when the price is back within a quarter of its jump
HEAVY = 3.0           # a jump on this many times the usual volume is a real trade, never held
VOLUME_WINDOW = 20    # sessions before a bar whose median volume is the usual volume


def _scale(close: pd.Series, window: int, centre: bool) -> np.ndarray:
    """Robust daily volatility over a window, floored by the price's smallest step in it.

    The median absolute log return (x1.4826) ignores the spike it is meant to measure; the floor
    (one price step, the smallest seen so far, relative to the price) keeps coarse prices (an
    Adj Close of 0.000003 rounded to six decimals: every move is 30% or more, most days none)
    from turning each price step into a spike.
    """
    returns = np.log(close).diff().abs()
    mad = 1.4826 * returns.rolling(window, center=centre, min_periods=min(20, window // 2 + 1)).median()
    moves = close.diff().abs()
    tick = moves.where(moves > 1e-9 * close).expanding().min()  # the price's smallest step so far
    scale = np.fmax(mad, np.log1p(tick / close))
    return np.maximum((scale if centre else scale.shift(1)).to_numpy(), MIN_SIGMA)


def robust_sigma(close: pd.Series, window: int) -> np.ndarray:
    """Trailing robust daily volatility at each bar, from the returns before it (NaN at the start)."""
    return _scale(close, window, centre=False)


def centred_sigma(close: pd.Series, half: int = 10) -> np.ndarray:
    """Robust daily volatility of the sessions around each bar (reporting only: it reads ahead).

    A lone bad tick sits among calm days; a crash and its rebounds (1987-10, 2008-10, 2020-03) sit
    among wild ones, so measured against their own weeks they are no outliers.
    """
    return _scale(close, 2 * half + 1, centre=True)


def find_spikes(logc: np.ndarray, sigma: np.ndarray, policy: QualityPolicy) -> list[int]:
    """Positions of bars inside spikes: a jump beyond `spike_z` that returns within the spike length.

    `sigma` should be the larger of the trailing and the centred robust volatility.
    """
    jumps = np.diff(logc, prepend=np.nan)
    with np.errstate(invalid="ignore"):
        candidates = np.flatnonzero(np.abs(jumps) / sigma > policy.spike_z)
    flagged: list[int] = []
    done = -1
    for i in candidates.tolist():
        if i <= done or i == 0:
            continue
        size, base = abs(jumps[i]), logc[i - 1]
        for k in range(1, policy.max_spike_bars + 1):
            if i + k >= len(logc) or abs(logc[i + k - 1] - base) < 0.5 * size:
                break  # no data to confirm, or the plateau gave way before coming back
            if abs(logc[i + k] - base) <= REVERSAL * size:
                flagged.extend(range(i, i + k))
                done = i + k
                break
    return flagged


def heavy_volume(volume: np.ndarray | None, i: int) -> float | None:
    """Bar i's volume over the median of the VOLUME_WINDOW sessions before it, when that says
    something (traded volume on both sides), else None. Reads bars up to i only."""
    if volume is None:
        return None
    before = volume[max(0, i - VOLUME_WINDOW):i]
    before = before[before > 0]
    if len(before) < 5 or np.ptp(before) == 0 or volume[i] <= 0:
        return None
    return float(volume[i] / np.median(before))


def hold_jumps(logc: np.ndarray, sigma: np.ndarray, policy: QualityPolicy,
               volume: np.ndarray | None = None) -> tuple[list[int], list[int], list[int], list[int]]:
    """(held bars, their reference bars, starts of held moves that persisted, jumps left as real
    trades for their heavy volume): the causal rule."""
    jumps = np.diff(logc, prepend=np.nan)
    with np.errstate(invalid="ignore"):
        candidates = np.flatnonzero((np.abs(jumps) / sigma > policy.repair_z)
                                    & (np.abs(jumps) > policy.repair_move))
    held: list[int] = []
    refs: list[int] = []
    persisted: list[int] = []
    traded: list[int] = []
    free = 1
    for i in candidates.tolist():
        if i < free:
            continue
        ratio = heavy_volume(volume, i)
        if ratio is not None and ratio >= HEAVY:
            traded.append(i)
            free = i + 1
            continue
        base, scale, j = logc[i - 1], sigma[i], i
        while j < len(logc) and j - i < policy.max_spike_bars and _far(logc[j] - base, scale, policy):
            held.append(j)
            refs.append(i - 1)
            j += 1
        if j < len(logc) and j - i == policy.max_spike_bars and _far(logc[j] - base, scale, policy):
            persisted.append(i)
        free = j + 1
    return held, refs, persisted, traded


def _far(move: float, scale: float, policy: QualityPolicy) -> bool:
    return abs(move) / scale > policy.repair_z and abs(move) > policy.repair_move


def check_ticks(frame: pd.DataFrame, policy: QualityPolicy, report: QualityReport) -> pd.DataFrame:
    """Report spikes that reverse; under `repair`, hold bars the causal rule rejects."""
    if policy.bad_ticks == "off" or len(frame) < 3:
        return frame
    logc = np.log(frame["Close"].to_numpy())
    sigma = robust_sigma(frame["Close"], policy.mad_window)
    spikes = find_spikes(logc, np.fmax(sigma, centred_sigma(frame["Close"])), policy)
    dates = list(frame.index[spikes])
    if policy.bad_ticks != "repair":
        report.add(Finding("bad_ticks", "spike that reverses", dates,
                           f"the close jumps more than {policy.spike_z:g} robust deviations and "
                           "comes back within a few sessions: a bad tick", policy.bad_ticks))
        return frame
    volume = frame["Volume"].to_numpy(dtype=float) if "Volume" in frame else None
    held, refs, persisted, traded = hold_jumps(logc, sigma, policy, volume)
    for i in traded:
        report.notes.append(
            f"{frame.index[i].date()}: close x{np.exp(logc[i] - logc[i - 1]):.3f} on "
            f"{heavy_volume(volume, i):.1f}x the usual volume: a real trade (a crash or a jump), "
            "left as it is")
    out = frame.copy()
    if held:
        report.held.update(zip(frame.index[held], frame["Close"].to_numpy()[held].tolist()))
        values = out["Close"].to_numpy()[refs]
        for column in OHLC:
            out.iloc[held, out.columns.get_loc(column)] = values
    kept = [d for d in dates if d not in set(frame.index[held])]
    done = (f"{len(held)} bar(s) replaced by a flat bar at the last good close "
            f"({', '.join(str(d.date()) for d in frame.index[held][:5])})" if held else "")
    if kept:
        done += ("; " if done else "") + (
            f"{len(kept)} spike bar(s) below repair_z={policy.repair_z:g} are left as they are: "
            "only the reversal, which lies in their future, shows they are wrong")
    report.add(Finding("bad_ticks", "spike that reverses", dates,
                       f"the close jumps more than {policy.spike_z:g} robust deviations and comes "
                       "back within a few sessions: a bad tick", "repair", done))
    report.add(Finding("bad_ticks", "held jump that persisted", list(frame.index[persisted]),
                       f"a jump beyond repair_z={policy.repair_z:g} and "
                       f"repair_move={policy.repair_move:g} was held at the last good close"
                       f" for {policy.max_spike_bars} bars and then accepted as real (a real "
                       "move on ordinary volume, or an unadjusted split)", "repair",
                       f"its first {policy.max_spike_bars} bars were replaced by the last good close: "
                       "orders on them filled at that close"))
    return out


def check_bars(frame: pd.DataFrame, policy: QualityPolicy, report: QualityReport) -> pd.DataFrame:
    """Open or Close outside [Low, High]; a repair widens High and Low to hold them."""
    if policy.impossible_bars == "off":
        return frame
    o, high, low, c = (frame[col].to_numpy() for col in OHLC)
    bad = (o > high) | (o < low) | (c > high) | (c < low)
    repair = policy.impossible_bars == "repair"
    done = "High and Low widened to include Open and Close" if repair and bad.any() else ""
    report.add(Finding("impossible_bars", "Open or Close outside [Low, High]",
                       list(frame.index[bad]), "the bar contradicts itself", policy.impossible_bars,
                       done))
    if not repair or not bad.any():
        return frame
    out = frame.copy()
    out["High"] = np.maximum.reduce([high, o, c])
    out["Low"] = np.minimum.reduce([low, o, c])
    return out


def check_cells(frame: pd.DataFrame, policy: QualityPolicy, report: QualityReport) -> pd.DataFrame:
    """Missing OHLC cells and a High below Low: repaired and reported with their dates, or (the
    policy `fail`) reported and refused; never left in, since no feature or fill can use a NaN.

    - no Close: the bar is dropped (a close is not invented); its session becomes a one-day gap,
      which the gaps check reports and leaves out of scoring (impossible_bars' policy);
    - High or Low missing, or High below Low: High and Low become the largest and smallest of the
      bar's own prices (impossible_bars' policy);
    - no Open: an unrecorded open, repaired as a zero Open is (the last close within the bar's
      range; zero_opens' policy).
    Under `fail` the bar is mended all the same (a mode that reports without stopping, inspect,
    reads it), and the finding stops the run when the report is enforced.
    """
    close = frame["Close"].to_numpy()
    if not np.isnan(close).any() and not frame[OHLC].isna().to_numpy().any() and not (
            frame["High"] < frame["Low"]).any():
        return frame
    bars_action = "fail" if policy.impossible_bars == "fail" else "repair"
    no_close = np.isnan(close)
    report.add(Finding("impossible_bars", "bar without a Close", list(frame.index[no_close]),
                       "the close was not recorded", bars_action,
                       "bar dropped: its session is a gap (not scored)" if bars_action == "repair" else ""))
    out = frame.loc[~no_close].copy()
    high, low = out["High"].to_numpy(), out["Low"].to_numpy()
    broken = np.isnan(high) | np.isnan(low) | (high < low)
    report.add(Finding("impossible_bars", "High or Low missing, or High below Low",
                       list(out.index[broken]), "the bar's range is unknown or inverted", bars_action,
                       "High and Low set to the largest and smallest of the bar's prices"
                       if bars_action == "repair" else ""))
    if broken.any():
        prices = out[OHLC].to_numpy()
        out["High"] = np.where(broken, np.nanmax(prices, axis=1), high)
        out["Low"] = np.where(broken, np.nanmin(prices, axis=1), low)
    no_open = out["Open"].isna().to_numpy()
    if no_open.any():
        report.add(Finding("zero_opens", "Open missing", list(out.index[no_open]),
                           "the open was not recorded", policy.zero_opens,
                           "set to the last close, kept within the bar's Low-High"
                           if policy.zero_opens == "repair" else ""))
        out["Open"] = np.where(no_open, _last_close_within(out), out["Open"].to_numpy())
    return out


def _last_close_within(frame: pd.DataFrame) -> np.ndarray:
    """Each bar's previous close (the first bar: its own), clamped to the bar's Low-High: a price
    the stock traded at that day, known at its open."""
    close = frame["Close"].to_numpy()
    previous = np.concatenate([close[:1], close[:-1]])
    return np.clip(previous, frame["Low"].to_numpy(), frame["High"].to_numpy())


def check_opens(frame: pd.DataFrame, policy: QualityPolicy, report: QualityReport) -> pd.DataFrame:
    """Opens of 0 (never recorded); a repair sets each to the last close, within the bar's range.

    Yahoo's files hold 0 for the Open of many early years (CVX, PG, XOM before 1970; CSCO, JPM, UNH
    into the 1980s). Left in place, an order would fill at a price of 0. The last close clamped to
    the bar's Low-High is a price the stock traded at that day (Yahoo itself fills later unrecorded
    Opens with the last close); a file's first bar has no last close and takes its own Close.
    """
    zero = frame["Open"].to_numpy() == 0
    if not zero.any():
        return frame
    repair = policy.zero_opens == "repair"
    done = ("set to the last close, kept within the bar's Low-High (the first bar: its Close)"
            if repair else "")
    last = int(np.flatnonzero(zero)[-1])
    resume = frame.index[last + 1] if last + 1 < len(frame) else None
    report.add(Finding("zero_opens", "Open of 0", list(frame.index[zero]),
                       "the open was not recorded (0 is no price)", policy.zero_opens, done, resume))
    if not repair:
        return frame
    out = frame.copy()
    out["Open"] = np.where(zero, _last_close_within(out), out["Open"].to_numpy())
    return out
