"""The report's sentiment section: the index built from the forecasts, its tests, the verdict, the plot.

Read from metrics.json's `sentiment` block only (judge_sentiment's output), so the page and the
files cannot disagree. Every string is escaped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from backtests.outputs.html import esc, figure, num, share, table

PLOT = "sentiment.png"
CAPTION = ("Top: the share of tickers forecast to rise (daily and smoothed) over the equal-weight "
           "universe index; middle: the mean forecast and the forecasts' dispersion; bottom: how "
           "often breadth sat on the same side of 0.5 as the realised next-day breadth, and their "
           "rolling correlation")
NAMES = {"breadth": "Breadth (share forecast to rise)", "mean_forecast": "Mean forecast"}


def sentiment_section(block: dict[str, Any] | None, folder: Path) -> list[str]:
    """The section's HTML parts, or nothing when the run built no sentiment index."""
    if not block:
        return []
    rows = []
    for name, s in (block.get("signals") or {}).items():
        low, high = (list(s.get("hit_ci95") or []) + [None, None])[:2]
        regression, direct = s.get("regression") or {}, s.get("direct") or {}
        rows.append((esc(NAMES.get(name, name)),
                     _corr(s, "day_pearson"), _corr(s, "day_spearman"),
                     _corr(s, "week_pearson"), _corr(s, "week_spearman"),
                     f"{share(s.get('hit_rate'))} [{share(low)}, {share(high)}]",
                     share(s.get("up_share")), _dm(regression), _dm(direct)))
    header = ("Signal", "Next day: Pearson (p)", "Next day: Spearman (p)",
              f"Next {esc(block.get('week', 5))} days: Pearson (p)",
              f"Next {esc(block.get('week', 5))} days: Spearman (p)",
              "Up/down call right [95% CI]", "Always up", "DM, past-only regression (p)",
              "DM, forecast itself (p)")
    return ["<h2>Market sentiment: the forecasts read as one index</h2>",
            f'<div class="verdict">{esc(block.get("verdict", ""))}</div>',
            table(header, rows), _agreement(block), _notes(block),
            figure(folder / PLOT, CAPTION)]


def _corr(s: dict[str, Any], key: str) -> str:
    return f"{num(s.get(key), 3)} ({num(s.get(f'{key}_p'), 3)})"


def _dm(entry: dict[str, Any]) -> str:
    return f"{num(entry.get('dm_statistic'))} ({num(entry.get('dm_pvalue'), 3)})" if entry else "–"


def _agreement(block: dict[str, Any]) -> str:
    r = block.get("realised_breadth") or {}
    return ("<p>Against the breadth that followed (the share of tickers up the next day): "
            f"correlation {num(r.get('pearson'), 3)} (p {num(r.get('pearson_p'), 3)}); both on the "
            f"same side of 0.5 on {share(r.get('same_side'))} of {num(r.get('days'), 0)} days.</p>")


def _notes(block: dict[str, Any]) -> str:
    week = esc(block.get("week", 5))
    return ("<p>Each close, <em>breadth</em> is the share of the universe's tickers whose "
            "out-of-sample forecast of the next-day log return is above the dead band, and the "
            "<em>mean forecast</em> the average of those forecasts; each day uses that day's "
            "forecasts only. They are judged on the future of the equal-weight universe: its "
            f"simple return to the next close and compounded over the next {week} sessions. The "
            f"{week}-day correlations use non-overlapping samples (every {week}th day), so the "
            "p-values hold without a correction for overlap. The up/down call says up when breadth "
            "is above 0.5 (the mean forecast: above 0) and is compared with always guessing up. The "
            "Diebold-Mariano tests compare squared errors of next-day return forecasts with the "
            "expanding mean of the past equal-weight returns (a forecast with no information): the "
            "regression of the return on the signal is fitted each day on earlier days only; "
            "&ldquo;forecast itself&rdquo; is e<sup>mean forecast</sup>&minus;1. Negative DM: "
            f"the signal's errors are smaller. The verdict adjusts all {num(block.get('tests'), 0)} "
            f"p-values with Holm's correction ({num(block.get('days'), 0)} days, "
            f"{num(block.get('weeks'), 0)} non-overlapping weeks). The daily figures are in "
            '<a href="sentiment.csv">sentiment.csv</a>.</p>')
