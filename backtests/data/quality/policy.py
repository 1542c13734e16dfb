"""What each data check may do (the `data.quality` settings) and what the checks found.

A finding is a kind of defect with its dates, a sentence and the action taken. The policy decides
per check: `off` (not run), `warn` (report only), `repair` (report and fix, where a fix exists that
needs no future data) or `fail` (stop the run with one error line naming the dates). Nothing is
silent: every finding is logged once per kind with its count and first dates, and lands in
metrics.json (`data.quality`) and in the data section of report.html.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from backtests.errors import UserError, first_few

log = logging.getLogger(__name__)

SHOWN_DATES = 5     # dates named in a log line or an error message
STORED_DATES = 200  # dates kept per finding in metrics.json (the count is always exact)


@dataclass(kw_only=True)
class QualityPolicy:
    """The `data.quality` config node: one action per check and the thresholds the checks use.

    No defaults here: conf/data/quality/default.yaml holds them (a source's own file may change
    some, as data/synthetic.yaml does).
    """

    bad_ticks: str          # spikes that reverse, and (repair) bars held by the causal rule
    zero_opens: str         # Open of 0 (not recorded): set to the last close within the bar
    impossible_bars: str    # Open or Close outside [Low, High]: High/Low widened
    gaps: str               # missing sessions: short ones kept but not scored, long refused
    splits: str             # moves the evidence calls an unadjusted split (see splits.py)
    dividends: str          # prices without dividend adjustment
    stale: str              # identical bars, zero volume, a last bar long before the end
    exchange: str           # trading calendar (exchange_calendars code) or "weekdays"
    spike_z: float          # |robust z| of a jump that, reversed, makes a bad tick
    repair_z: float         # |robust z| (vs the last good close) above which a bar is held
    repair_move: float      # ... and more than this log move (x1.49 or x0.67) away
    max_spike_bars: int     # a spike lasts at most this many sessions
    mad_window: int         # sessions in the trailing median absolute deviation
    max_gap: int            # missing sessions in a row above which a gap is refused
    stale_bars: int         # identical OHLC bars in a row worth reporting
    max_age: int | None     # sessions the last bar may lag data.end or today (None: no check)
    split_tolerance: float  # relative distance of a move to a split ratio
    cache_dir: str | None   # where the calendar's sessions are cached

    # Each setting's bound (checked before any data is read: backtests/settings/bounds.py).
    bounds: ClassVar[dict[str, str]] = {
        **{name: "one of: off, warn, repair, fail"
           for name in ("bad_ticks", "impossible_bars", "gaps", "splits")},
        "zero_opens": "one of: repair, fail",  # a zero Open left in place would be traded at 0
        "dividends": "one of: off, warn, fail", "stale": "one of: off, warn, fail",
        **{name: "number > 0" for name in ("spike_z", "repair_z", "repair_move", "split_tolerance")},
        **{name: "int >= 1" for name in ("max_spike_bars", "mad_window", "max_gap", "stale_bars")},
        "max_age": "int >= 0 | null"}



def show_dates(dates: list[pd.Timestamp], limit: int = SHOWN_DATES) -> str:
    """The first `limit` dates, then 'and N more', so a long list is never cut silently."""
    return first_few([pd.Timestamp(d).date() for d in dates], limit)


@dataclass
class Finding:
    """One kind of defect found by one check: its dates, what it means, and what was done."""

    check: str                  # policy field: bad_ticks, gaps, ...
    kind: str                   # e.g. "spike that reverses", "missing sessions"
    dates: list[pd.Timestamp]
    detail: str                 # a sentence a user can act on
    action: str                 # warn, repair or fail
    done: str = ""              # what the repair did, in words
    resume: pd.Timestamp | None = None  # gaps: the first bar after a refused gap

    def line(self) -> str:
        did = f"; {self.done}" if self.done else ""
        if self.check == "dividends":  # a property of the whole file, not of some dates
            return f"{self.kind} (from {self.dates[0].date()} on): {self.detail}{did}"
        return f"{self.kind}: {len(self.dates)} ({show_dates(self.dates)}): {self.detail}{did}"

    def as_dict(self) -> dict:
        return {"check": self.check, "kind": self.kind, "count": len(self.dates),
                "action": self.action, "dates": [str(d.date()) for d in self.dates[:STORED_DATES]],
                "detail": self.detail, "done": self.done}


@dataclass
class QualityReport:
    """Every finding of one load, the dates left out of scoring, and notes on what was not checked."""

    origin: str
    findings: list[Finding] = field(default_factory=list)
    unscored: list[pd.Timestamp] = field(default_factory=list)  # forecasts whose target spans a gap
    notes: list[str] = field(default_factory=list)
    # (last bar, sessions behind today, in words) when it is old and data.end is unset: see age.py
    age: tuple[pd.Timestamp, int, str] | None = None
    # bars the bad-tick repair held at the last good close -> the close the file gave them
    held: dict[pd.Timestamp, float] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        if finding.dates or finding.check == "dividends":
            self.findings.append(finding)

    def log(self, age: bool = True) -> None:
        """One line per kind of finding (warning), one per note (info), the age unless said elsewhere."""
        for note in self.notes:
            log.info("data quality %s: %s", self.origin, note)
        if age and self.age is not None:
            log.warning("data quality %s: %s", self.origin, self.age[2])
        for finding in self.findings:
            log.warning("data quality %s: %s", self.origin, finding.line())

    def enforce(self) -> None:
        """Stop on the first finding whose policy is `fail`."""
        for finding in self.findings:
            if finding.action == "fail":
                raise UserError(f"{self.origin}: {finding.line()}",
                                finding_hint(finding))

    def as_dict(self) -> dict:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.check] = counts.get(finding.check, 0) + len(finding.dates)
        return {"counts": counts, "findings": [f.as_dict() for f in self.findings],
                "unscored_forecasts": [str(d.date()) for d in self.unscored],
                "notes": [*self.notes, *([self.age[2]] if self.age is not None else [])]}


_HINTS = {
    "bad_ticks": "fix those bars in the file, or set data.quality.bad_ticks=repair",
    "impossible_bars": "fix those bars, or set data.quality.impossible_bars=repair",
    "splits": "use split-adjusted prices (an Adj Close that adjusts for splits), set "
              "data.quality.splits=repair to back-adjust the earlier bars by the split ratio, or "
              "data.quality.splits=warn if it is a real move",
    "dividends": "use a file with an Adj Close column, or set data.quality.dividends=warn",
    "stale": "refresh the data or set data.end to its last bar; data.quality.stale=warn accepts it",
}


def finding_hint(finding: Finding) -> str:
    """How to get past a finding that stops the run."""
    if finding.check == "gaps" and finding.dates:
        after = finding.resume
        start = (f"set data.start={after.date()} (after the gap) to use the data that follows, or "
                 if after is not None else "")
        return f"{start}use data.quality.gaps=warn to run across it"
    if finding.check == "zero_opens":
        after = finding.resume
        start = f"set data.start={after.date()} (after the last one), or " if after is not None else ""
        return f"{start}set data.quality.zero_opens=repair to open at the last close"
    return _HINTS.get(finding.check, f"see data.quality.{finding.check}")
