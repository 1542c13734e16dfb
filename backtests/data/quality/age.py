"""How far the last bar lies behind today: said once per run, and only a note when data.end is set.

An old last bar is no defect of a historical file: the 30 shared Yahoo files all end in 2020, and
thirty warnings (thirty files "with findings" in mode=inspect) said one thing thirty times. So the
age is kept on the report, not as a finding: a single run says it in one line, a universe or an
inspection in one line for all its tickers (`say_age`). When data.end is set, the user chose the
span: a last bar before it is a note in the log and in metrics.json. Only `stale=fail` without
data.end (a live run that must not trade on old data) makes it a finding, which stops the run.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

import pandas as pd

from backtests.data.quality.calendar import Sessions
from backtests.data.quality.gaps import sessions_between
from backtests.data.quality.policy import Finding, QualityPolicy, QualityReport
from backtests.errors import first_few

log = logging.getLogger(__name__)


def check_age(frame: pd.DataFrame, sessions: Sessions, policy: QualityPolicy,
              report: QualityReport, end: pd.Timestamp | None) -> None:
    """Note a last bar more than `max_age` sessions before data.end, or keep its age behind today."""
    if policy.stale == "off" or policy.max_age is None:
        return
    today = pd.Timestamp(date.today())
    last = frame.index[-1]
    until = min(end, today) if end is not None else today
    behind = sessions_between(sessions, last, until)
    if behind <= policy.max_age:
        return
    what = "data.end" if end is not None and end <= today else "today"
    sentence = f"the last bar ({last.date()}) is {behind} sessions before {what} ({until.date()})"
    if end is not None:
        report.notes.append(sentence)
    elif policy.stale == "fail":
        report.add(Finding("stale", "last bar is old", [last], sentence, "fail"))
    else:
        report.age = (last, behind, sentence)


def say_age(reports: Sequence[tuple[str, QualityReport | None]]) -> None:
    """One warning for every (name, report) whose last bar is old, instead of one per ticker."""
    old = [(name, r.age) for name, r in reports if r is not None and r.age is not None]
    if not old:
        return
    lasts = sorted(age[0] for _, age in old)
    span = (f"{lasts[0].date()}" if lasts[0] == lasts[-1]
            else f"{lasts[0].date()} to {lasts[-1].date()}")
    log.warning("data quality: the last bar is old in %d of %d tickers (%s): last bars %s, %d or "
                "more sessions before today; set data.end to mark a historical run", len(old),
                len(reports), first_few(sorted(name for name, _ in old), 8), span,
                min(age[1] for _, age in old))
