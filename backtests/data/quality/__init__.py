"""Data you can trust: every load is checked for missing cells, zero Opens, bad ticks, impossible
bars, unadjusted splits, missing dividends, gaps against the exchange calendar and stale prices,
and handled by the policy in `data.quality` (see policy.py). Checks run after parsing and before
any feature is computed.
"""
from __future__ import annotations

import pandas as pd

from backtests.data.quality.age import check_age, say_age
from backtests.data.quality.calendar import sessions
from backtests.data.quality.gaps import check_gaps, check_stale
from backtests.data.quality.policy import Finding, QualityPolicy, QualityReport
from backtests.data.quality.prices import check_bars, check_cells, check_opens, check_ticks
from backtests.data.quality.splits import check_splits

__all__ = ["Finding", "QualityPolicy", "QualityReport", "check_quality", "say_age"]


def check_quality(frame: pd.DataFrame, policy: QualityPolicy, origin: str,
                  adjusted: bool | None = True,
                  end: pd.Timestamp | None = None,
                  factor: pd.Series | None = None) -> tuple[pd.DataFrame, QualityReport]:
    """Return (bars after the repairs the policy allows, what was found); never raises.

    `adjusted` says whether the prices carry dividends (False: a file without Adj Close; None: not
    applicable); `factor` is the file's Adj Close / Close per date, when it has one.
    Call `report.enforce()` to stop on findings whose policy is `fail`.
    """
    report = QualityReport(origin)
    frame = check_cells(frame, policy, report)    # missing cells first: every later check reads them
    frame = check_opens(frame, policy, report)    # before check_bars would widen Low down to 0
    frame = check_bars(frame, policy, report)     # local to one bar: first, so later checks see
    frame = check_splits(frame, policy, report, adjusted, factor)  # sound bars and split-free returns
    unheld = frame  # bars held by the tick repair repeat each other: not a stale feed
    frame = check_ticks(frame, policy, report)
    if policy.gaps != "off" or policy.stale != "off":
        calendar = sessions(policy.exchange, policy.cache_dir)
        check_gaps(frame, calendar, policy, report)
        check_stale(unheld, policy, report)
        check_age(frame, calendar, policy, report, end)
    if adjusted is False and policy.dividends != "off":
        report.add(Finding("dividends", "prices not dividend-adjusted", [frame.index[0]],
                           "there is no Adj Close column, so returns leave dividends out: "
                           "buy-and-hold and every strategy that holds through ex-dates understate "
                           "their total return", policy.dividends))
    return frame, report
