"""The sweep summary's equity chart: growth of 1 per run and buy and hold per ticker, inline SVG.

Drawn by hand rather than with matplotlib so the page stays one small text file whose lines carry
their own tooltips. Every line must be told apart at a glance: runs get a colour each (and a dash
once the colours run out), each ticker's buy and hold gets its own dark colour and dash, and the
axes carry enough labelled ticks to read a value off the chart.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from backtests.outputs.html import esc

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")
RUN_DASHES = ("", "7 3", "2 2", "9 3 2 3")
BENCHMARK_STYLES = (("#222222", "8 4"), ("#0b5d5d", "3 3"), ("#6b4f1d", "10 3 2 3"),
                    ("#5a2a6e", "5 2 1 2"), ("#8a1c1c", "12 4"), ("#444488", "1 3"))
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, MAX_POINTS = 1100, 420, 58, 16, 14, 34, 400


def equity_chart(returns: dict[str, pd.DataFrame], tickers: dict[str, Any]) -> str:
    """The chart and its legend for the (already cut to one period) returns of complete runs."""
    curves = _curves(returns, tickers)
    if not curves:
        return "<p>No complete runs to draw.</p>"
    x0 = min(c[1].index[0] for c in curves).value
    x1 = max(c[1].index[-1] for c in curves).value
    y0 = min(float(c[1].min()) for c in curves)
    y1 = max(float(c[1].max()) for c in curves)
    y_ticks = nice_ticks(y0, y1)
    y0, y1 = min(y0, y_ticks[0]), max(y1, y_ticks[-1])
    sx = lambda t: LEFT + (WIDTH - LEFT - RIGHT) * (t - x0) / max(x1 - x0, 1)  # noqa: E731
    sy = lambda v: HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (v - y0) / max(y1 - y0, 1e-12)  # noqa: E731
    lines, legend = [], []
    for name, curve, colour, dash in curves:
        step = max(1, len(curve) // MAX_POINTS)
        sample = pd.concat([curve.iloc[::step], curve.iloc[-1:]])
        points = " ".join(f"{sx(t.value):.1f},{sy(v):.1f}" for t, v in sample.items())
        pattern = f' stroke-dasharray="{dash}"' if dash else ""
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{pattern} '
                     f'points="{points}"><title>{esc(name)}: {curve.iloc[-1]:.3f}</title></polyline>')
        legend.append(f'<span><svg width="30" height="8"><line x1="0" y1="4" x2="30" y2="4" '
                      f'stroke="{colour}" stroke-width="2"{pattern}/></svg>{esc(name)}</span>')
    digits = max(0, -math.floor(math.log10(y_ticks[1] - y_ticks[0]))) if len(y_ticks) > 1 else 2
    grid = [f'<line x1="{LEFT}" y1="{sy(v):.1f}" x2="{WIDTH - RIGHT}" y2="{sy(v):.1f}" '
            f'stroke="{"#bbb" if v == 1 else "#eee"}"/><text x="{LEFT - 5}" y="{sy(v) + 4:.1f}" '
            f'text-anchor="end" font-size="11">{v:.{digits}f}</text>' for v in y_ticks]
    grid += [f'<line x1="{sx(t.value):.1f}" y1="{HEIGHT - BOTTOM}" x2="{sx(t.value):.1f}" '
             f'y2="{HEIGHT - BOTTOM + 4}" stroke="#999"/><text x="{sx(t.value):.1f}" '
             f'y="{HEIGHT - BOTTOM + 17}" text-anchor="middle" font-size="11">{label}</text>'
             for t, label in date_ticks(pd.Timestamp(x0), pd.Timestamp(x1))]
    axes = (f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="#999"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" '
            'stroke="#999"/>')
    return (f'<svg id="equity" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
            'xmlns="http://www.w3.org/2000/svg"><title>Growth of 1 per run</title>'
            f'{"".join(grid)}{axes}{"".join(lines)}</svg>'
            f'<div class="legend">{"".join(legend)}</div>')


def _curves(returns: dict[str, pd.DataFrame], tickers: dict[str, Any]
            ) -> list[tuple[str, pd.Series, str, str]]:
    """(name, growth of 1, colour, dash) for every run, then one buy and hold line per ticker.

    Runs on the same ticker and period share a benchmark; should two runs of one ticker hold
    different buy-and-hold returns (other costs), each gets its own labelled line.
    """
    runs: list[tuple[str, pd.Series, str, str]] = []
    benchmarks: list[tuple[str, pd.Series, str, str]] = []
    seen: dict[Any, Any] = {}
    for number, (job, frame) in enumerate(returns.items()):
        dash = RUN_DASHES[(number // len(COLOURS)) % len(RUN_DASHES)]
        runs.append((job, (1 + frame["strategy"].fillna(0)).cumprod(),
                     COLOURS[number % len(COLOURS)], dash))
        ticker = str(tickers.get(job) or job)
        growth = (1 + frame["benchmark"].fillna(0)).cumprod()
        key = (ticker, frame.index[0], frame.index[-1], round(float(growth.iloc[-1]), 9))
        if key in seen:
            continue
        same_ticker = sum(k[0] == ticker for k in seen)
        seen[key] = job
        label = f"buy & hold {ticker}" + (f" ({job})" if same_ticker else "")
        colour, dash = BENCHMARK_STYLES[len(benchmarks) % len(BENCHMARK_STYLES)]
        benchmarks.append((label, growth, colour, dash))
    return [c for c in runs + benchmarks if len(c[1]) > 1]


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """About `count` round values (1, 2, 2.5 or 5 times a power of ten) spanning low to high."""
    if not high > low:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    return [round(first + i * step, 10) for i in range(int(round((last - first) / step)) + 1)]


def date_ticks(start: pd.Timestamp, end: pd.Timestamp, most: int = 10) -> list[tuple[pd.Timestamp, str]]:
    """Round dates (years, else quarters, months or days) within start..end, at most `most`."""
    fmt = "%Y-%m-%d"
    for freq, shown in (("YS", "%Y"), ("QS", "%Y-%m"), ("MS", "%Y-%m"), ("D", "%Y-%m-%d")):
        ticks = pd.date_range(start, end, freq=freq)
        if len(ticks) >= 3:
            fmt = shown
            break
    if len(ticks) < 2:
        ticks = pd.DatetimeIndex([start, end])
        fmt = "%Y-%m-%d"
    keep = ticks[::math.ceil(len(ticks) / most)]
    return [(t, t.strftime(fmt)) for t in keep]
