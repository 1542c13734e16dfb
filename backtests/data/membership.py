"""Point-in-time universe membership: which tickers were members on each date.

A universe of today's members run back in time carries survivorship bias: the names that fell out
(declined, were taken over, delisted) are missing, and those that were added after they rose are
there all along. A membership file says who was a member when, as spells (start and end inclusive):

- CSV with a header `ticker,start,end` (several rows per ticker; an empty end: still a member);
- qlib's instruments file: `TICKER<TAB>start<TAB>end`, no header (qlib writes 2099-12-31 for
  "still a member");
- a snapshot file with a header `date,tickers`: the members on each date (tickers separated by
  spaces, `;` or `|`, like an index fund's monthly holdings). A ticker is a member from a snapshot
  that lists it to the day before the first later snapshot that does not (the last snapshot's
  members: still members).
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.data.symbols import check_ticker
from backtests.errors import UserError

FORMATS_HINT = ("a membership file is CSV `ticker,start,end` (empty end: still a member), qlib's "
                "instruments file `TICKER<TAB>start<TAB>end`, or a snapshot file `date,tickers`")
_SEPARATORS = re.compile(r"[\s;|,]+")


@dataclass(frozen=True)
class Spell:
    """One membership spell: a member from `start` to `end` inclusive (None: still a member)."""

    start: pd.Timestamp
    end: pd.Timestamp | None

    def covers(self, dates: pd.DatetimeIndex) -> np.ndarray:
        inside = dates >= self.start
        return inside if self.end is None else inside & (dates <= self.end)


@dataclass(frozen=True)
class Membership:
    """Spells by ticker; `source` names the file it came from (errors and reports)."""

    spells: dict[str, tuple[Spell, ...]]
    source: str = ""

    @property
    def tickers(self) -> list[str]:
        """Every ticker that was ever a member (whose prices a run loads)."""
        return sorted(self.spells)

    def digest(self) -> str:
        """A hash of every spell (the data's fingerprint and the forecast cache key include it)."""
        text = ";".join(f"{t}:" + ",".join(f"{s.start.date()}/{s.end.date() if s.end else ''}"
                                          for s in spells) for t, spells in sorted(self.spells.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def today(self) -> list[str]:
        """Today's members, what a list of the current constituents holds: the tickers with a spell
        still open (an empty end), or, when every spell has an end (qlib writes the data's last
        date for current members), those whose spell ends on the latest end."""
        ends = {t: spells[-1].end for t, spells in self.spells.items()}
        if any(end is None for end in ends.values()):
            return sorted(t for t, end in ends.items() if end is None)
        latest = max(end for end in ends.values() if end is not None)
        return sorted(t for t, end in ends.items() if end == latest)

    def mask(self, dates: Iterable[pd.Timestamp], tickers: Sequence[str]) -> pd.DataFrame:
        """date x ticker, True where the ticker was a member on that date (False if never)."""
        index = pd.DatetimeIndex(dates)
        frame = {}
        for ticker in tickers:
            inside = np.zeros(len(index), dtype=bool)
            for spell in self.spells.get(ticker, ()):
                inside |= spell.covers(index)
            frame[ticker] = inside
        return pd.DataFrame(frame, index=index, columns=list(tickers), dtype=bool)

    def keep(self, long: pd.DataFrame) -> pd.DataFrame:
        """The rows of a long (date, ticker, ...) table whose ticker was a member on its date."""
        if long.empty:
            return long
        member = np.zeros(len(long), dtype=bool)
        dates = pd.DatetimeIndex(long["date"])
        for ticker, rows in long.groupby("ticker", sort=False).indices.items():
            inside = np.zeros(len(rows), dtype=bool)
            for spell in self.spells.get(str(ticker), ()):
                inside |= spell.covers(dates[rows])
            member[rows] = inside
        return long.loc[member].reset_index(drop=True)


def read_membership(path: str | Path) -> Membership:
    """Read a membership file in any of the three layouts (see the module docstring)."""
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise UserError(f"universe.file {file} is not a file", f"give universe.file=PATH; {FORMATS_HINT}")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the membership file {file} ({exc})", FORMATS_HINT) from exc
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise UserError(f"the membership file {file} is empty", FORMATS_HINT)
    head = [c.strip().lower() for c in next(csv.reader([lines[0]]))]
    if head[:3] == ["ticker", "start", "end"]:
        rows = [(r + ["", "", ""])[:3] for r in csv.reader(io.StringIO("\n".join(lines[1:])))]
        spells = _spells(rows, file)
    elif head[:2] == ["date", "tickers"]:
        spells = _from_snapshots(lines[1:], file)
    elif "\t" in lines[0]:
        rows = [(line.split("\t") + ["", "", ""])[:3] for line in lines]
        spells = _spells(rows, file)
    else:
        raise UserError(f"{file}: the first line {lines[0][:60]!r} is no membership header",
                        FORMATS_HINT)
    if not spells:
        raise UserError(f"the membership file {file} lists no member", FORMATS_HINT)
    return Membership(spells, str(file))


def _date(value: str, file: Path, row: int, what: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(value.strip()).normalize()
    except (ValueError, TypeError) as exc:
        raise UserError(f"{file}: row {row} has {what} {value!r}, not a date",
                        "write dates as YYYY-MM-DD") from exc


def _spells(rows: list[list[str]], file: Path) -> dict[str, tuple[Spell, ...]]:
    found: dict[str, list[Spell]] = {}
    for number, (ticker, start, end) in enumerate(rows, start=1):
        name = _ticker(ticker, file, number)
        first = _date(start, file, number, "start")
        last = _date(end, file, number, "end") if end.strip() else None
        if last is not None and last < first:
            raise UserError(f"{file}: row {number} ({name}) ends on {last.date()}, before it starts "
                            f"on {first.date()}", "swap or fix the two dates")
        found.setdefault(name, []).append(Spell(first, last))
    return {t: _merged(s, file, t) for t, s in sorted(found.items())}


def _ticker(value: str, file: Path, row: int) -> str:
    try:
        return check_ticker(value.strip())
    except UserError as exc:
        raise UserError(f"{file}: row {row}: {exc.message}", exc.hint) from exc


def _merged(spells: list[Spell], file: Path, ticker: str) -> tuple[Spell, ...]:
    """Spells in order; overlapping ones are a mistake in the file (refused, naming the dates)."""
    ordered = sorted(spells, key=lambda s: s.start)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.end is None or before.end >= after.start:
            raise UserError(f"{file}: {ticker}'s spells overlap (one from {before.start.date()}, "
                            f"another from {after.start.date()})",
                            "give each ticker non-overlapping spells, one row per spell")
    return tuple(ordered)


def _from_snapshots(lines: list[str], file: Path) -> dict[str, tuple[Spell, ...]]:
    """Spells from dated lists of members (see the module docstring)."""
    snapshots: dict[pd.Timestamp, set[str]] = {}
    for number, line in enumerate(lines, start=1):
        date, _, rest = line.partition(",")
        day = _date(date, file, number, "date")
        names = [n.strip().strip('"') for n in _SEPARATORS.split(rest) if n.strip().strip('"')]
        snapshots[day] = {_ticker(n, file, number) for n in names}
    days = sorted(snapshots)
    spells: dict[str, list[Spell]] = {}
    open_since: dict[str, pd.Timestamp] = {}
    for i, day in enumerate(days):
        members = snapshots[day]
        for ticker in sorted(members - set(open_since)):
            open_since[ticker] = day
        for ticker in sorted(set(open_since) - members):
            spells.setdefault(ticker, []).append(Spell(open_since.pop(ticker), day - pd.Timedelta(days=1)))
        if i == len(days) - 1:
            for ticker, since in open_since.items():
                spells.setdefault(ticker, []).append(Spell(since, None))
    return {t: tuple(sorted(s, key=lambda x: x.start)) for t, s in sorted(spells.items())}
