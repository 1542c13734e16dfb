"""Trading sessions of an exchange, from `exchange_calendars`, cached so a run pays for them once.

Building a calendar costs ~0.3 s (plus ~0.1 s to import the library), which alone would eat most of
the half-second the data checks may add to a run. The sessions of a whole calendar are therefore
computed once per exchange and library version, kept in memory for the process and as a small
`.npy` file under the cache folder for later processes, and looked up with a binary search.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.atomic import atomic_path
from backtests.errors import UserError

log = logging.getLogger(__name__)

EARLIEST = "1885-01-01"  # asked for first; calendars that start later say so and we use theirs


@dataclass(frozen=True)
class Sessions:
    """The sorted session dates of one exchange (as datetime64[D]) and the range they cover."""

    exchange: str
    days: np.ndarray
    first: pd.Timestamp  # the first session whose year has its holidays modelled

    @property
    def last(self) -> pd.Timestamp:
        return pd.Timestamp(self.days[-1])

    @property
    def usable(self) -> np.ndarray:
        """Sessions from `first` on: the ones a missing bar can be judged against."""
        return self.days[self.days >= np.datetime64(self.first.date(), "D")]

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Sessions from `start` to `end`, both included."""
        lo = np.searchsorted(self.days, np.datetime64(start.date(), "D"), side="left")
        hi = np.searchsorted(self.days, np.datetime64(end.date(), "D"), side="right")
        return self.days[lo:hi]


MIN_CLOSURES = 6  # weekday closures a year: fewer means the library does not model that year


def modelled_from(days: np.ndarray) -> pd.Timestamp:
    """Start of the first year from which every full year has at least MIN_CLOSURES weekday closures.

    exchange_calendars accepts early start dates but does not model every calendar's early holidays
    (its XNYS has none in 1962-1967): a year without holidays would turn each one into a "gap".
    """
    years = pd.DatetimeIndex(days).year
    weekdays = pd.bdate_range(f"{years[0]}-01-01", f"{years[-1]}-12-31")
    closed = pd.Series(1, index=weekdays.difference(pd.DatetimeIndex(days))).groupby(
        lambda d: d.year).sum().reindex(range(years[0], years[-1]), fill_value=0)
    short = closed.index[closed.to_numpy() < MIN_CLOSURES]
    start = int(short[-1]) + 1 if len(short) else int(years[0])
    return max(pd.Timestamp(f"{start}-01-01"), pd.Timestamp(days[0]))


def sessions(exchange: str, cache_dir: str | None = None) -> Sessions:
    """All sessions the library knows for `exchange` (ISO code such as XNYS), cached.

    `weekdays` is every Monday to Friday: the synthetic market's calendar, no library needed.
    """
    code = str(exchange).upper()
    if code == "WEEKDAYS":
        return _weekdays()
    return _sessions(code, str(cache_dir) if cache_dir else "")


@functools.lru_cache(maxsize=1)
def _weekdays() -> Sessions:
    end = pd.Timestamp.today().normalize() + pd.DateOffset(years=1)
    days = pd.bdate_range("1900-01-01", end).to_numpy().astype("datetime64[D]")
    return Sessions("weekdays", days, pd.Timestamp(days[0]))


@functools.lru_cache(maxsize=8)
def _sessions(exchange: str, cache_dir: str) -> Sessions:
    version = _version()
    file = Path(cache_dir) / "calendars" / f"{exchange}-{version}.npy" if cache_dir else None
    if file is not None and file.is_file():
        try:
            days = np.load(file, allow_pickle=False)
            if days.dtype == np.dtype("datetime64[D]") and len(days) and \
                    pd.Timestamp(days[-1]) >= pd.Timestamp.today().normalize():
                return Sessions(exchange, days, modelled_from(days))
        except (OSError, ValueError):
            log.warning("calendar: ignoring unreadable %s", file)
    days = _from_library(exchange)
    if file is not None:
        with atomic_path(file) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, days, allow_pickle=False)
    return Sessions(exchange, days, modelled_from(days))


def _version() -> str:
    try:
        return metadata.version("exchange_calendars")
    except metadata.PackageNotFoundError as exc:
        raise UserError("the exchange calendar library is not installed",
                        "pip install -c constraints.txt exchange_calendars, or set "
                        "data.quality.gaps=off") from exc


def _from_library(exchange: str) -> np.ndarray:
    import exchange_calendars as xcals

    names = xcals.get_calendar_names(include_aliases=True)
    if exchange not in names:
        raise UserError(f"data.quality.exchange={exchange!r} is not a known exchange calendar",
                        "use an ISO code such as XNYS (New York), XNAS, XLON, XETR, XTKS")
    try:
        calendar = xcals.get_calendar(exchange, start=EARLIEST)
    except ValueError:  # this calendar cannot go back that far: take its own default range
        calendar = xcals.get_calendar(exchange)
    days = calendar.sessions.to_numpy().astype("datetime64[D]")
    log.debug("calendar: %s has %d sessions from %s to %s", exchange, len(days), days[0], days[-1])
    return days
