"""data_quality.html: what `mode=inspect` found, a row per ticker and a marked price plot for each
ticker whose findings have dates. One self-contained page (plots embedded), built with the report's
helpers so it reads like report.html.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

from backtests.atomic import write_text
from backtests.data.base import MarketData
from backtests.outputs.html import esc, page, table
from backtests.outputs.plots import _pyplot

CHECKS = ("zero_opens", "bad_ticks", "impossible_bars", "splits", "gaps", "stale", "dividends")
COLOURS = ("tab:red", "tab:orange", "tab:purple", "tab:blue", "tab:green", "tab:brown", "tab:pink",
           "tab:olive", "tab:cyan", "tab:gray")  # one per kind of finding, in order
UNDATED = ("dividends",)  # a property of the whole file: nothing to mark on a plot
EXTRA_CSS = "td.f{text-align:left;font-size:.86em;max-width:30em}th{text-align:left}.n{color:#9aa3ab}"


@dataclass
class Inspection:
    """One file's result: its data (None when refused) and the reason it was refused."""

    label: str
    data: MarketData | None = None
    refused: str = ""
    findings: list[dict] = field(default_factory=list)


def finding_dates(finding: dict, limit: int = 5) -> str:
    """The first dates of a finding, then 'and N more' from its exact count."""
    dates, count = finding.get("dates") or [], int(finding.get("count", 0))
    more = f" and {count - limit} more" if count > limit else ""
    return ", ".join(dates[:limit]) + more


def _cell(result: Inspection, check: str) -> str:
    found = [f for f in result.findings if f["check"] == check]
    if not found:
        return '<span class="n">–</span>'
    parts = [f"<b>{f['count']}</b> {esc(f['kind'])} [{esc(f['action'])}]<br>"
             f"<small>{esc(finding_dates(f, 3))}</small>" for f in found]
    return "<br>".join(parts)


def _plot(result: Inspection) -> str:
    """A base64 PNG of the close (log scale) with each kind of flagged bar marked."""
    assert result.data is not None  # only files that loaded have findings with dates to plot
    frame = result.data.frame
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 2.6))
    # ~2000 points are plenty for 1000 pixels (flagged bars are drawn at their exact values), and
    # drawing all 15000 bars of a 60-year file made each plot cost most of a second.
    line = frame["Close"].iloc[::max(1, len(frame) // 2000)]
    ax.plot(line.index, line, lw=0.7, color="black", label="close")
    for number, finding in enumerate(result.findings):
        colour = COLOURS[number % len(COLOURS)]
        if finding["check"] in UNDATED:
            continue
        dates = [d for d in frame.index.intersection(_timestamps(finding["dates"]))]
        if not dates and finding["check"] == "gaps":  # missing sessions: mark where they start
            dates = _timestamps(finding["dates"])
            ax.vlines(dates, *ax.get_ylim(), colors=colour, lw=0.8, alpha=0.6,
                      label=f"{finding['kind']} ({finding['count']})")
            continue
        ax.scatter(dates, frame["Close"].reindex(dates), s=18, zorder=3,
                   color=colour,
                   label=f"{finding['kind']} ({finding['count']})")
    ax.set_yscale("log")
    ax.set_title(f"{result.label}: close with flagged bars", fontsize=10)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.12)  # tight_layout draws twice
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _timestamps(dates: list[str]) -> list:
    import pandas as pd

    return list(pd.to_datetime(dates))


def _dated(result: Inspection) -> bool:
    """Worth a plot: the file loaded and a finding has dates other than its last bar's age."""
    return result.data is not None and any(
        f["check"] not in UNDATED and f["kind"] != "last bar is old"
        for f in result.findings)


def write_page(path: Path, results: list[Inspection], rows: list[dict]) -> None:
    """Write data_quality.html from the inspected files and their data_quality.csv rows."""
    header = ["Ticker", "Range", "Bars", *[c.replace("_", " ") for c in CHECKS]]
    body_rows = []
    for result, row in zip(results, rows):
        if result.refused:
            cells = [f'<td class="f" colspan="{len(CHECKS)}">refused: {esc(result.refused)}</td>']
        else:
            cells = [f'<td class="f">{_cell(result, check)}</td>' for check in CHECKS]
        anchor = f'<a href="#{esc(result.label)}">{esc(result.label)}</a>' if _dated(result) \
            else esc(result.label)
        span = (f"{esc(row['first_date'])} to {esc(row['last_date'])}" if result.data is not None
                else '<span class="n">–</span>')
        body_rows.append(f"<tr><td>{anchor}</td><td>{span}</td><td>{row['bars'] or '–'}</td>"
                         f"{''.join(cells)}</tr>")
    summary = table(header, [])  # header only; rows carry their own cells (colspans, classes)
    summary = summary.replace("<tbody></tbody>", f"<tbody>{''.join(body_rows)}</tbody>")
    flagged = sum(1 for r in results if r.findings)
    plots = "".join(f'<h2 id="{esc(r.label)}">{esc(r.label)}</h2>'
                    f'<img src="data:image/png;base64,{_plot(r)}" alt="{esc(r.label)} close with '
                    'flagged bars">' for r in results if _dated(r))
    intro = (f"<h1>Data quality: {len(results)} file(s)</h1><p class=\"sub\">{flagged} with findings, "
             f"{sum(1 for r in results if r.refused)} refused by the reader. Each cell: count, kind, "
             "[action the policy takes in a run], first dates. Policy: <code>data.quality</code>; "
             "<a href=\"data_quality.csv\">data_quality.csv</a> holds the same rows.</p>")
    html = page("Data quality", intro + summary + plots).replace("</style>", EXTRA_CSS + "</style>")
    write_text(path, html)
