"""The summary's statement of how many trials deflate its figures: this sweep's, and the ledger's.

A sweep's deflated Sharpe counts its own runs; the ledger counts every distinct trial ever run on
the same data and test period, earlier sweeps included. The page states both N's and, for the run
a user would keep (the best deflated Sharpe of the sweep), both deflated Sharpes, so the cost of
the earlier searches is in plain sight.
"""
from __future__ import annotations

import math
from typing import Any

from backtests.outputs.html import esc, finite, num
from backtests.sweeps.period import CommonPeriod


def _groups(complete: list[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
    """The complete runs by (data fingerprint, test period) in the ledger."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in complete:
        if finite(row.get("ledger_trials")) is not None:
            key = (row.get("ledger_dataset"), row.get("ledger_period_start"),
                   row.get("ledger_period_end"))
            groups.setdefault(key, []).append(row)
    return groups


def trials_note(complete: list[dict[str, Any]], period: CommonPeriod) -> str:
    """A paragraph: N of this sweep, N of the ledger per dataset, and the best run deflated by both."""
    sweep_n = next((r.get("trials") for r in complete if finite(r.get("trials")) is not None), None)
    parts = [f"Trials counted: <b>this sweep N = {num(sweep_n, 0)}</b> (its complete runs with a "
             "Sharpe, over the common test period)"]
    groups = _groups(complete)
    if not groups:
        parts.append("; no run of this sweep is in a trial ledger (ledger.enabled=false, or runs "
                     "older than the ledger), so none is deflated by the trials of earlier sweeps.")
        return f'<p id="trials" class="verdict">{"".join(parts)}</p>'
    for (dataset, start, end), rows in groups.items():
        count = max(int(finite(r.get("ledger_trials")) or 0) for r in rows)
        sr0 = finite(rows[0].get("ledger_expected_max_sharpe"))
        year = int(finite(rows[0].get("periods_per_year")) or 252)
        parts.append(f"; <b>the ledger N = {count}</b> distinct trials on {esc(rows[0].get('ticker'))} "
                     f"data {esc(dataset)} over {esc(start)} to {esc(end)} ({len(rows)} of them from "
                     "this sweep; reruns of identical settings count once; the best Sharpe that many "
                     "skill-less trials would reach: an annualised "
                     f"{num(None if sr0 is None else sr0 * math.sqrt(year))})")
    parts.append(".")
    ranked = [r for r in complete if finite(r.get("deflated_sharpe")) is not None]
    if ranked:
        best = max(ranked, key=lambda r: finite(r.get("deflated_sharpe")) or 0.0)
        parts.append(f" The best run here, {esc(best['job'])}, has a deflated Sharpe of "
                     f"<b>{num(best.get('deflated_sharpe'), 3)}</b> against this sweep's "
                     f"{num(sweep_n, 0)} trials and <b>{num(best.get('ledger_deflated_sharpe'), 3)}"
                     f"</b> against the ledger's {num(best.get('ledger_trials'), 0)}.")
    if period.longer:
        parts.append(" The ledger deflates each run over its own test period; runs marked "
                     "&dagger; were cut to the common one for this sweep's figures.")
    return f'<p id="trials" class="verdict">{"".join(parts)}</p>'
