"""The data section of report.html: what the cleaner repaired and what the data checks found.

Kept apart from report.py so the report's layout and the data checks can change independently;
it reads only the `data` block of metrics.json, so the page says exactly what the metrics say.
"""
from __future__ import annotations

from typing import Any

from backtests.errors import first_few
from backtests.outputs.html import esc, table

SHOWN = 8  # dates per row; metrics.json holds them all (up to its own limit), the count is exact


def data_section(data: dict) -> str:
    """Escaped HTML: adjustment, the cleaner's repairs and every quality finding, with dates."""
    quality = data.get("quality") or {}
    parts = [f"<p>{esc(_adjustment(data))}</p>", _repairs(data), _findings(quality)]
    unscored = quality.get("unscored_forecasts") or []
    if unscored:
        parts.append(f"<p>{len(unscored)} forecast(s) made just before a gap in the data are left "
                     f"out of the forecast scores: {esc(first_few(unscored, SHOWN))}.</p>")
    notes = quality.get("notes") or []
    if notes:
        parts.append("<ul>" + "".join(f"<li>{esc(note)}</li>" for note in notes) + "</ul>")
    return "".join(parts)


def _adjustment(data: dict) -> str:
    adjusted = data.get("dividend_adjusted")
    if adjusted is False:
        return ("Prices are split-adjusted only, not dividend-adjusted (no Adj Close column): "
                "returns leave dividends out.")
    if adjusted is None:
        return "Split and dividend adjustment do not apply to this source."
    return "Prices are adjusted for splits and dividends."


def _repairs(data: dict) -> str:
    counts: dict[str, Any] = data.get("repairs") or {}
    dates: dict[str, list] = data.get("repair_dates") or {}
    made = [(name, count) for name, count in counts.items() if count]
    if not made:
        if str(data.get("source", "")).startswith("synthetic"):
            return "<p>A seeded synthetic market: no file to clean up.</p>"
        return "<p>The file needed no clean-up (no empty, duplicated or unsorted rows).</p>"
    rows = [(esc(name.replace("_", " ")), esc(count), _dates(dates.get(name) or [], int(count)))
            for name, count in made]
    return ("<p>Clean-up made while reading the file:</p>"
            + table(("Repair", "Rows", "Where"), rows, "info"))


def _findings(quality: dict) -> str:
    findings = quality.get("findings") or []
    if not findings:
        return ("<p>The data checks (zero Opens, bad ticks, impossible bars, splits, gaps against the "
                "exchange calendar, stale data) found nothing.</p>")
    rows = []
    for item in findings:
        what = item.get("detail", "")
        if item.get("done"):
            what += f". Done: {item['done']}"
        rows.append((esc(item.get("kind", "")), esc(item.get("count", "")), esc(item.get("action", "")),
                     _dates(item.get("dates") or [], int(item.get("count") or 0)), esc(what)))
    return ("<p>Data checks (policy in <code>data.quality</code>):</p>"
            + table(("Finding", "Count", "Action", "Dates", "What it means and what was done"), rows,
                    "info"))  # text columns: left-aligned


def _dates(dates: list, count: int) -> str:
    """The first SHOWN dates, each kept on one line, then 'and N more' from the exact count."""
    shown = ", ".join(f'<span style="white-space:nowrap">{esc(d)}</span>' for d in dates[:SHOWN])
    more = max(count, len(dates)) - min(len(dates), SHOWN)
    return f"{shown} and {more} more" if more > 0 else shown


def universe_data_section(data: dict[str, dict], left_out: dict[str, str]) -> list[str]:
    """A universe report's data section: every member's findings and notes, the tickers left out.

    Read from metrics.json's per-ticker `data` blocks, as a single run's section reads its one.
    """
    rows: list[tuple[str, ...]] = []
    notes: dict[str, list[str]] = {}
    for ticker, block in sorted(data.items()):
        quality = block.get("quality") or {}
        for item in quality.get("findings") or []:
            what = item.get("detail", "") + (f". Done: {item['done']}" if item.get("done") else "")
            rows.append((esc(ticker), esc(item.get("kind", "")), esc(item.get("count", "")),
                         esc(item.get("action", "")),
                         _dates(item.get("dates") or [], int(item.get("count") or 0)), esc(what)))
        for note in quality.get("notes") or []:  # one line for a note many members share
            notes.setdefault(note, []).append(ticker)
    parts = ["<h2>Data</h2>"]
    if rows:
        parts.append("<p>Data checks of the members (policy in <code>data.quality</code>):</p>"
                     + table(("Ticker", "Finding", "Count", "Action", "Dates",
                              "What it means and what was done"), rows, "info"))
    else:
        parts.append(f"<p>The data checks found nothing in the {len(data)} members' prices.</p>")
    if notes:
        parts.append("<ul>" + "".join(f"<li>{esc(first_few(tickers, SHOWN))}: {esc(note)}</li>"
                                      for note, tickers in list(notes.items())[:SHOWN * 4]) + "</ul>")
    if left_out:
        parts.append("<p>Left out before any forecast: " + esc("; ".join(
            f"{ticker} ({why})" for ticker, why in sorted(left_out.items()))) + ".</p>")
    return parts
