"""The panel: every ticker's windows stacked into one sample set, with the dates that bound them.

Each sample keeps the date it is made at (`pos`, a position on the panel calendar) and the date its
target becomes known (`target_pos`: the ticker's next bar), so a fold can take exactly the samples
whose outcome was known when it was fitted, whatever gaps or late listings a ticker has.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasting.windows import Windows

UNKNOWN = np.iinfo(np.int64).max  # target_pos of a sample whose next bar has not happened yet
OWN_SCALE_SAMPLES = 60  # training samples a ticker needs for its own scalers (fewer: the pooled ones)


@dataclass(frozen=True)
class Panel:
    """Stacked samples of all tickers: X (samples, window, features) float32, y next log return."""

    X: np.ndarray
    y: np.ndarray
    pos: np.ndarray          # calendar position of the forecast date
    target_pos: np.ndarray   # calendar position of the ticker's next bar (UNKNOWN if none yet)
    ticker: np.ndarray       # index into `tickers`
    tickers: list[str]
    calendar: pd.DatetimeIndex
    lead: int                # bars of warm-up and window fill before a ticker's first sample
    member: np.ndarray | None = None  # per sample: its ticker was a universe member on its date
                                      # (None: every sample; see with_members)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return self.calendar[self.pos]

    def with_members(self, mask: np.ndarray) -> Panel:
        """The panel with each sample's membership from `mask` (calendar x tickers, bool)."""
        return replace(self, member=np.asarray(mask, dtype=bool)[self.pos, self.ticker])

    @classmethod
    def stack(cls, windows: Mapping[str, Windows], bar_dates: Mapping[str, pd.DatetimeIndex]) -> Panel:
        """Stack per-ticker windows; `bar_dates` are each ticker's own bar dates (for next bars)."""
        tickers = sorted(windows)
        calendar = pd.DatetimeIndex(sorted(set().union(*(bar_dates[t] for t in tickers))))
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("X", "y", "pos", "target", "ticker")}
        lead = 0
        for number, name in enumerate(tickers):
            w, bars = windows[name], bar_dates[name]
            own = bars.get_indexer(w.index)
            lead = max(lead, int(own[0]))
            following = np.append(calendar.get_indexer(bars[1:]), UNKNOWN)  # next bar of each bar
            parts["X"].append(w.X)
            parts["y"].append(w.y)
            parts["pos"].append(calendar.get_indexer(w.index))
            parts["target"].append(following[own])
            parts["ticker"].append(np.full(len(w), number))
        join = {k: np.concatenate(v) for k, v in parts.items()}
        return cls(X=join["X"].astype(np.float32, copy=False), y=join["y"].astype(np.float64),
                   pos=join["pos"].astype(np.int64), target_pos=join["target"].astype(np.int64),
                   ticker=join["ticker"].astype(np.int64), tickers=tickers, calendar=calendar,
                   lead=lead)


@dataclass(frozen=True)
class PanelScaler:
    """Per-ticker mean/std of inputs and targets, fit on one fold's training samples only.

    A ticker with fewer than OWN_SCALE_SAMPLES training samples (a new listing, or none yet) is
    scaled by the statistics pooled over every training sample, so it can be forecast as soon as
    it has one window, before its own history could estimate a mean and a spread.
    """

    x_mean: np.ndarray   # (tickers, features)
    x_std: np.ndarray
    y_mean: np.ndarray   # (tickers,)
    y_std: np.ndarray

    @classmethod
    def fit(cls, panel: Panel, idx: np.ndarray, y: np.ndarray) -> PanelScaler:
        """`idx`: training sample positions; `y`: their (already transformed) targets."""
        n, f = len(panel.tickers), panel.X.shape[-1]
        x_mean, x_std = np.zeros((n, f)), np.ones((n, f))
        y_mean, y_std = np.zeros(n), np.ones(n)
        owner = panel.ticker[idx]
        counts = np.bincount(owner, minlength=n)
        if len(idx) and (counts < OWN_SCALE_SAMPLES).any():
            pooled = cls._stats(panel.X[idx].reshape(-1, f).astype(np.float64), y)
            x_mean[:], x_std[:], y_mean[:], y_std[:] = pooled
        for t in np.flatnonzero(counts >= OWN_SCALE_SAMPLES):
            mine = owner == t
            rows = panel.X[idx[mine]].reshape(-1, f).astype(np.float64)
            x_mean[t], x_std[t], y_mean[t], y_std[t] = cls._stats(rows, y[mine])
        return cls(x_mean, x_std, y_mean, y_std)

    @staticmethod
    def _stats(rows: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        std = rows.std(axis=0)
        return rows.mean(axis=0), np.where(std > 0, std, 1.0), float(np.mean(y)), float(np.std(y)) or 1.0

    def transform_x(self, panel: Panel, idx: np.ndarray, window: int | None = None) -> np.ndarray:
        X = panel.X[idx] if window is None else panel.X[idx, -window:, :]
        t = panel.ticker[idx]
        return ((X - self.x_mean[t][:, None, :]) / self.x_std[t][:, None, :]).astype(np.float32)

    def transform_y(self, panel: Panel, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = panel.ticker[idx]
        return ((y - self.y_mean[t]) / self.y_std[t]).astype(np.float32)

    def inverse_y(self, panel: Panel, idx: np.ndarray, scaled: np.ndarray) -> np.ndarray:
        t = panel.ticker[idx]
        return np.asarray(scaled, dtype=np.float64).reshape(-1) * self.y_std[t] + self.y_mean[t]


TARGETS = ("raw", "excess", "csrank")


def cross_sectional_target(y: np.ndarray, pos: np.ndarray, kind: str) -> np.ndarray:
    """The training target from next-day returns `y` of samples made on dates `pos`.

    raw: the return itself; excess: minus that date's mean over the given samples; csrank: its
    cross-sectional rank mapped to roughly unit variance, (pct - 0.5) * 3.46, as qlib's CSRankNorm.
    Only the samples passed in enter a date's mean or rank: a fold passes its training samples, whose
    outcomes were all known when it was fitted.
    """
    if kind == "raw":
        return y
    frame = pd.DataFrame({"y": y, "d": pos})
    if kind == "excess":
        return (frame["y"] - frame.groupby("d")["y"].transform("mean")).to_numpy()
    if kind == "csrank":
        return ((frame.groupby("d")["y"].rank(pct=True) - 0.5) * 3.46).to_numpy()
    raise ValueError(f"universe.target must be one of {', '.join(TARGETS)}, got {kind!r}")
