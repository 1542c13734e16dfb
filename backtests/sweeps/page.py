"""The sweep summary page: a sortable table of runs, their equity curves, and the failed runs.

Self-contained like report.html: inline CSS, a few lines of inline script for sorting (click a
header; `summary.html#sort=-sharpe` opens sorted by Sharpe, descending) and an inline SVG chart.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from backtests.outputs.html import esc, finite, fixed, num, page, pct, share, sort_script
from backtests.pipeline.metrics import TRADING_DAYS
from backtests.sweeps.chart import equity_chart
from backtests.sweeps.period import CommonPeriod
from backtests.sweeps.trials import trials_note

# (key, header, formatter); the key is also the `#sort=` name. What a user ranks by comes first,
# so the deflated Sharpe columns stay on screen however long the overrides are.
SHOWN = (("job", "Run", None), ("overrides", "Overrides", None), ("ticker", "Ticker", None),
         ("strategy", "Strategy", None), ("sharpe", "Sharpe", fixed(2)),
         ("deflated_sharpe", "DSR, this sweep", fixed(3)),
         ("ledger_deflated_sharpe", "DSR, all trials", fixed(3)),
         ("ledger_trials", "N, all", fixed(0)), ("psr", "PSR(0)", fixed(3)),
         ("excess_return", "Excess", pct),
         ("excess_deflated_sharpe", "DSR of excess, this sweep", fixed(3)),
         ("ledger_excess_deflated_sharpe", "DSR of excess, all trials", fixed(3)),
         ("excess_psr", "PSR(0) of excess", fixed(3)),
         ("total_return", "Total return", pct), ("benchmark_total_return", "Buy &amp; hold", pct),
         ("cagr", "CAGR", pct), ("sortino", "Sortino", fixed(2)),
         ("max_drawdown", "Max drawdown", pct), ("trades", "Trades", fixed(0)),
         ("theil_u", "Theil's U", fixed(3)), ("directional_accuracy", "Dir. accuracy", share))
TEXT = ' class="t"'  # a text column: left-aligned
LONGER = "&dagger;"  # marks a run whose own test period was longer than the common one

SORT_JS = sort_script("runs")
EXTRA_CSS = ("<style>body{max-width:none}#runs{font-size:13px}#runs th,#runs td{padding:.25em .45em}"
             "#equity,.legend{max-width:1400px}"
             "#runs th{cursor:pointer;user-select:none}"
             "#runs th[aria-sort=ascending]::after{content:' \\25B2'}"
             "#runs th[aria-sort=descending]::after{content:' \\25BC'}"
             ".legend span{display:inline-block;margin:0 1em .3em 0}"
             ".legend svg{vertical-align:middle;margin-right:.35em}"
             "#runs .t{text-align:left}#runs td{white-space:nowrap}"
             "#runs td.o{white-space:normal;max-width:20em;overflow-wrap:break-word}"
             "pre{white-space:pre-wrap;background:#f6f8fa;padding:.5em;font-size:.85em}</style>")


def render_summary(title: str, rows: list[dict[str, Any]], returns: dict[str, pd.DataFrame],
                   period: CommonPeriod) -> str:
    """The whole summary page for the sweep `title` (its folder name); `returns` cut to `period`."""
    complete = [r for r in rows if r.get("status") == "complete"]
    failed = [r for r in rows if r.get("status") != "complete"]
    lists = [r.get("override_list") or [] for r in rows]
    common = [o for o in lists[0] if all(o in other for other in lists)] if lists else []
    rows = [{**r, "overrides": _own_overrides(r, common)} for r in rows]
    body = [EXTRA_CSS, f"<h1>Sweep summary: {esc(title)}</h1>",
            f'<p class="sub">{len(rows)} runs: {len(complete)} complete, {len(failed)} not. '
            'Click a column header to sort. <a href="summary.csv">summary.csv</a></p>',
            f'<p id="period" class="verdict">{period.text()}</p>', trials_note(complete, period),
            f"<p>Overrides common to every run: <code>{esc(' '.join(common)) or 'none'}</code></p>",
            _table(rows), _explain(complete),
            "<h2>Equity curves</h2>", equity_chart(returns, {r["job"]: r.get("ticker") for r in rows}),
            f"<h2>Runs that did not finish ({len(failed)})</h2>", _failures(failed)]
    return page(f"Sweep summary: {title}", "".join(body), SORT_JS)


def _own_overrides(row: dict[str, Any], common: list[str]) -> str:
    """The overrides that set this run apart, less those its Ticker and Strategy cells show."""
    shown = {f"ticker={row.get('ticker')}", f"strategy={row.get('strategy')}", *common}
    return " ".join(o for o in row.get("override_list") or [] if o not in shown)


def _explain(complete: list[dict[str, Any]]) -> str:
    """What the DSR columns mean and how many trials deflate them, with this sweep's numbers."""
    trials = next((r.get("trials") for r in complete if finite(r.get("trials"))), 0)

    def bar(key: str) -> str:  # the per-day SR0, shown annualised like the Sharpe column
        sr0 = next((finite(r.get(key)) for r in complete if finite(r.get(key)) is not None), None)
        return num(None if sr0 is None else sr0 * math.sqrt(TRADING_DAYS))

    return (f'<p id="dsr">DSR, the Deflated Sharpe Ratio (Bailey &amp; L&oacute;pez de Prado, 2014): '
            f"the probability that a run's true Sharpe beats the best that {num(trials, 0)} trials "
            f"without skill would be expected to reach by luck (here an annualised "
            f"{bar('expected_max_sharpe')}), given its skewness, kurtosis and length; the "
            f"{num(trials, 0)} trials deflating it are this sweep's complete runs with a Sharpe. "
            "Values near 1 survive the search; PSR(0) is the same probability against a Sharpe of "
            "0, without the search. The columns \u201cof excess\u201d ask the same of the daily excess "
            "return over buy and hold (strategy minus benchmark), deflated by the same "
            f"{num(trials, 0)} trials (expected best {bar('excess_expected_max_sharpe')}): near 1, "
            "the run beat buy and hold by more than the search explains. Theil's U and "
            "directional accuracy show &ndash; for strategies that do not read the forecast. "
            "The columns \u201call trials\u201d ask the same against every distinct trial in the "
            "trial ledger on the run's data and test period (N beside them), earlier sweeps and "
            "single runs included: the honest count when you keep the best of many searches.</p>")


def _cell(row: dict, key: str, show: Any) -> str:
    value = row.get(key)
    if show is None:
        text = "" if value is None else str(value)
        shown = esc(text)
        if key == "job":
            if row.get("recomputed"):
                own = f"own test period {row.get('own_period_start')} to {row.get('own_period_end')}"
                shown += f' <span title="{esc(own)}, recomputed over the common one">{LONGER}</span>'
            links = [f'<a href="{esc(row[k])}">{label}</a>' for k, label in
                     (("report", "report"), ("tearsheet", "tearsheet")) if row.get(k)]
            status = [] if row.get("status") == "complete" else [f"<b>{esc(row.get('status'))}</b>"]
            shown += "<br><small>" + " · ".join(status + links) + "</small>" if status + links else ""
        klass = ' class="t o"' if key == "overrides" else TEXT
        return f'<td{klass} data-v="{esc(text)}">{shown}</td>'
    number = finite(value)
    return f'<td data-v="{"" if number is None else repr(number)}">{show(value)}</td>'


def _table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f'<th data-key="{key}"{"" if show else TEXT}>{label}</th>'
                   for key, label, show in SHOWN)
    body = "".join("<tr>" + "".join(_cell(row, key, show) for key, _, show in SHOWN) + "</tr>"
                   for row in rows)
    return (f'<div class="wide"><table id="runs"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _failures(failed: list[dict[str, Any]]) -> str:
    if not failed:
        return "<p>None.</p>"
    items = "".join(f"<li><b>{esc(r['job'])}</b> ({esc(r.get('status'))}) "
                    f"<code>{esc(r.get('overrides') or '')}</code>"
                    f"<pre>{esc(r.get('error') or '')}</pre></li>" for r in failed)
    return f'<ul id="failed">{items}</ul>'
