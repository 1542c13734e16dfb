"""Every figure a sweep summary ranks, recomputed over the one test period its complete runs share.

Runs of a sweep can be tested over different periods (a sweep over `data.start`,
`walkforward.initial_train`, or tickers with different histories). Ranking the figures of
metrics.json would then compare a run that caught an early rally with one that did not: an Optuna
trial once won only because its test started earlier. So the summary ranks none of them as they
are: it cuts every run's returns.csv to the latest start and the earliest end of all complete runs
and recomputes the figures there with `performance`, the function that wrote metrics.json, so the
two agree whenever a run's own period is the common one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from backtests.pipeline.metrics import TRADING_DAYS, performance
from backtests.sweeps.deflated_sharpe import deflated_sharpe

FIGURES = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown")
STATS = ("sharpe_per_period", "observations", "skew", "kurtosis", "trials",
         "expected_max_sharpe", "psr", "deflated_sharpe")
EXCESS_STATS = ("sharpe_per_period", "expected_max_sharpe", "psr", "deflated_sharpe")
RANKED = (*FIGURES, "trades", "benchmark_total_return", "excess_return", *STATS,
          *(f"excess_{key}" for key in EXCESS_STATS))


@dataclass(frozen=True)
class CommonPeriod:
    """The test period shared by `runs` complete runs, and the runs that were tested longer."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    runs: int
    longer: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.start is not None and self.end is not None and self.start <= self.end

    def text(self) -> str:
        """One sentence for the top of summary.html."""
        if self.runs == 0:
            return "No complete runs: nothing to compare."
        span = f"{_day(self.start)} to {_day(self.end)}"
        if not self.exists:
            return (f"The {self.runs} complete runs share no test period (the latest start "
                    f"{_day(self.start)} is after the earliest end {_day(self.end)}): "
                    "no figure is ranked.")
        if not self.longer:
            return f"All {self.runs} runs share the test period {span}."
        return (f"Every figure is over the test period all {self.runs} complete runs share, {span} "
                f"(the latest start and the earliest end). {len(self.longer)} runs marked &dagger; "
                "were tested over a longer period: their figures were recomputed over this one, "
                "while their own report shows the longer period.")


def _day(stamp: pd.Timestamp | None) -> str:
    return "?" if stamp is None else str(stamp.date())


def common_period(returns: dict[str, pd.DataFrame]) -> CommonPeriod:
    """The latest start and earliest end of the runs' returns, and the runs tested longer."""
    spans = {job: (frame.index[0], frame.index[-1]) for job, frame in returns.items() if len(frame)}
    if not spans:
        return CommonPeriod(None, None, len(returns))
    start = max(first for first, _ in spans.values())
    end = min(last for _, last in spans.values())
    longer = [job for job, (first, last) in spans.items() if first < start or last > end]
    return CommonPeriod(start, end, len(returns), longer)


def rescore(rows: list[dict[str, Any]], returns: dict[str, pd.DataFrame]
            ) -> tuple[CommonPeriod, dict[str, pd.DataFrame]]:
    """Fill every ranked figure of the complete `rows` from their returns over the common period.

    A row may carry `periods_per_year` (its config's) and `entry_dates` (its trades.csv): trades
    are counted again only for runs whose own period was longer (the trades entered in the common
    period). Returns the period, also written into every complete row.
    """
    period = common_period(returns)
    cut = {job: frame.loc[period.start:period.end] for job, frame in returns.items()
           if period.exists}
    strategy = deflated_sharpe({job: frame["strategy"] for job, frame in cut.items()})
    trials = int(strategy["trials"].iloc[0]) if len(strategy) else 0
    excess = deflated_sharpe({job: frame["strategy"] - frame["benchmark"]
                              for job, frame in cut.items()}, trials=trials)
    for row in rows:
        job = row["job"]
        if job not in returns:
            continue
        own = returns[job]
        row.update(period_start=_day(period.start), period_end=_day(period.end),
                   own_period_start=_day(own.index[0]) if len(own) else None,
                   own_period_end=_day(own.index[-1]) if len(own) else None,
                   recomputed=job in period.longer)
        if job not in cut:  # no common period: nothing can be ranked
            row.update(dict.fromkeys(RANKED))
            continue
        year = int(row.get("periods_per_year") or TRADING_DAYS)
        mine = performance(cut[job]["strategy"], year)
        row.update({key: mine[key] for key in FIGURES})
        row["benchmark_total_return"] = performance(cut[job]["benchmark"], year)["total_return"]
        row["excess_return"] = mine["total_return"] - row["benchmark_total_return"]
        row["trades"] = (_trades_in(row.get("entry_dates"), period) if row["recomputed"]
                         else row.get("own_trades"))
        row.update({key: strategy.loc[job, key] for key in STATS})
        row.update({f"excess_{key}": excess.loc[job, key] for key in EXCESS_STATS})
    return period, cut


def _trades_in(entry_dates: pd.Series | None, period: CommonPeriod) -> int | None:
    """Trades entered within the period; None when trades.csv could not be read."""
    if entry_dates is None:
        return None
    return int(((entry_dates >= period.start) & (entry_dates <= period.end)).sum())
