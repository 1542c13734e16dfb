"""report.html's "Trials on this data" section: the run's Sharpe deflated by every trial on record.

A run's Sharpe means little without the number of settings tried before it on the same prices.
The section states that number twice, from the run's trials.json (written by
backtests/ledger/record.py): this run or sweep alone, and every distinct trial in the ledger on
the same data fingerprint and test period.
"""
from __future__ import annotations

import math
from typing import Any

from backtests.outputs.html import esc, finite, num, plural, table


def _annual(per_period: Any, periods_per_year: int) -> str:
    value = finite(per_period)
    return num(None if value is None else value * math.sqrt(periods_per_year))


def _when(stamp: str) -> str:
    """`2026-11-26T09:25:31.571802+00:00` -> `2026-11-26 09:25 UTC` (the ledger keeps UTC)."""
    return esc(f"{str(stamp)[:10]} {str(stamp)[11:16]} UTC")


def _sources(count: int) -> str:
    return f"{count} {'sweep or single run' if count == 1 else 'sweeps and single runs'}"


def trials_section(block: dict | None, periods_per_year: int = 252) -> str:
    """The section's HTML (escaped); `block` is the run's trials.json (None: no ledger)."""
    if not block:
        return ("<p>No trial ledger (ledger.enabled=false): this run's Sharpe is not deflated by "
                "the trials run before it.</p>")
    alone = ["This run alone (no search: PSR(0))", "1", num(0.0), num(block.get("psr"), 3),
             num(block.get("excess_psr"), 3)]
    rows = [alone]
    if block.get("sweep"):  # its N is known only once every job has ended
        rows.append([f"This sweep ({esc(block['sweep'])})", "–", "–",
                     '<a href="../summary.html">summary.html</a>, when the sweep ends', "–"])
    count = int(finite(block.get("trials")) or 0)
    rows.append(["Every trial on this data and test period", str(count),
                 _annual(block.get("expected_max_sharpe"), periods_per_year),
                 f"<b>{num(block.get('deflated_sharpe'), 3)}</b>",
                 num(block.get("excess_deflated_sharpe"), 3)])
    header = ("Deflated against", "Trials (N)", "Expected best Sharpe (SR0, annual)",
              "Deflated Sharpe", "Deflated Sharpe of excess")
    rerun = ("a new trial" if block.get("new", True) else
             f"a daily extension of trial {esc(block.get('id'))} (the same settings on data that "
             f"only grew since {esc(block.get('data_end'))}): not counted again, and deflated "
             "against the trials on that trial's data" if block.get("extension") else
             "a rerun of settings already on the record: not counted again")
    note = (f"<p>This run is {rerun}. The ledger <code>{esc(block.get('ledger'))}</code> held "
            f"{plural(count, 'distinct trial')} on data {esc(block.get('dataset'))} "
            f"({esc(block.get('ticker'))}) over the test period {esc(block.get('period_start'))} "
            f"to {esc(block.get('period_end'))} when this run ended, from "
            f"{_sources(int(block.get('sweeps') or 0))}"
            f"{', the first on ' + _when(first) if (first := block.get('first_recorded')) else ''}"
            ". The deflated Sharpe is the probability that the true Sharpe beats the best that "
            "this many skill-less trials would reach by luck (SR0, from the spread of their "
            "Sharpe ratios); reruns of identical settings count once. List them with "
            "<code>python run.py mode=ledger</code> and the same data settings.</p>")
    return table(header, rows) + note
