"""The sweep summary page: a sortable table of runs, their equity curves, and the failed runs.

Self-contained like report.html: inline CSS, a few lines of inline script for sorting (click a
header; `summary.html#sort=-sharpe` opens sorted by Sharpe, descending) and an inline SVG chart.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from backtests.report import esc, finite, num, page, pct, share

# (key, header, formatter); the key is also the `#sort=` name.
SHOWN = (("job", "Run", None), ("status", "Status", None), ("overrides", "Overrides", None),
         ("ticker", "Ticker", None), ("strategy", "Strategy", None),
         ("total_return", "Total return", pct), ("cagr", "CAGR", pct), ("sharpe", "Sharpe", num),
         ("sortino", "Sortino", num), ("max_drawdown", "Max drawdown", pct),
         ("trades", "Trades", lambda v: num(v, 0)),
         ("benchmark_total_return", "Buy &amp; hold", pct), ("excess_return", "Excess", pct),
         ("theil_u", "Theil's U", lambda v: num(v, 3)),
         ("directional_accuracy", "Dir. accuracy", share),
         ("deflated_sharpe", "Deflated Sharpe", lambda v: num(v, 3)),
         ("psr", "PSR(0)", lambda v: num(v, 3)))
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")
TEXT = ' class="t"'  # a text column: left-aligned
WIDTH, HEIGHT, PAD, MAX_POINTS = 960, 360, 44, 400

SORT_JS = """(function(){var t=document.getElementById('runs');if(!t)return;
var h=t.tHead.rows[0].cells;
function key(c){var v=c.getAttribute('data-v');var n=parseFloat(v);return v!==''&&!isNaN(n)?n:v;}
function sortBy(i,desc){var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);
rows.sort(function(r,s){var x=key(r.cells[i]),y=key(s.cells[i]);
if(x===''&&y==='')return 0;if(x==='')return 1;if(y==='')return -1;
var c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
return desc?-c:c;});
rows.forEach(function(r){b.appendChild(r);});
for(var j=0;j<h.length;j++)h[j].removeAttribute('aria-sort');
h[i].setAttribute('aria-sort',desc?'descending':'ascending');}
Array.prototype.forEach.call(h,function(c,i){c.addEventListener('click',function(){
sortBy(i,c.getAttribute('aria-sort')==='ascending');});});
var m=/sort=(-?)(\\w+)/.exec(location.hash);
if(m)Array.prototype.forEach.call(h,function(c,i){
if(c.getAttribute('data-key')===m[2])sortBy(i,m[1]==='-');});
})();"""
EXTRA_CSS = ("<style>body{max-width:1600px}#runs{font-size:13px}"
             "#runs th{cursor:pointer;user-select:none}"
             "#runs th[aria-sort=ascending]::after{content:' \\25B2'}"
             "#runs th[aria-sort=descending]::after{content:' \\25BC'}"
             ".legend span{display:inline-block;margin:0 1em .3em 0}"
             ".legend i{display:inline-block;width:1.4em;height:.25em;vertical-align:middle;"
             "margin-right:.35em}#runs .t{text-align:left}#runs td{white-space:nowrap}"
             "pre{white-space:pre-wrap;background:#f6f8fa;padding:.5em;font-size:.85em}</style>")


def render_summary(title: str, rows: list[dict[str, Any]], returns: dict[str, pd.DataFrame]) -> str:
    """The whole summary page for the sweep `title` (its folder name)."""
    complete = [r for r in rows if r.get("status") == "complete"]
    failed = [r for r in rows if r.get("status") != "complete"]
    trials = next((r.get("trials") for r in complete if finite(r.get("trials"))), 0)
    sr0 = next((finite(r.get("expected_max_sharpe")) for r in complete), None)
    lists = [r.get("override_list") or [] for r in rows]
    common = [o for o in lists[0] if all(o in other for other in lists)] if lists else []
    rows = [{**r, "overrides": " ".join(o for o in r.get("override_list") or [] if o not in common)}
            for r in rows]
    body = [EXTRA_CSS, f"<h1>Sweep summary: {esc(title)}</h1>",
            f'<p class="sub">{len(rows)} runs: {len(complete)} complete, {len(failed)} not. '
            'Click a column header to sort. <a href="summary.csv">summary.csv</a></p>',
            f"<p>Overrides common to every run: <code>{esc(' '.join(common)) or 'none'}</code></p>",
            _table(rows),
            f"<p>Deflated Sharpe (Bailey &amp; L&oacute;pez de Prado, 2014): the probability that a "
            f"run's true Sharpe beats the best that {num(trials, 0)} skill-less trials would be "
            f"expected to reach (annualised {num(None if sr0 is None else sr0 * math.sqrt(252))}), "
            "given its skewness, kurtosis and length. Values near 1 survive the search; "
            "PSR(0) is the same probability against a Sharpe of 0, without the search.</p>",
            "<h2>Equity curves</h2>", _chart(returns, {r["job"]: r.get("ticker") for r in rows}),
            f"<h2>Runs that did not finish ({len(failed)})</h2>", _failures(failed)]
    return page(f"Sweep summary: {title}", "".join(body), SORT_JS)


def _cell(row: dict, key: str, show: Any) -> str:
    value = row.get(key)
    if show is None:
        text = "" if value is None else str(value)
        shown = esc(text)
        if key == "job":
            links = [f'<a href="{esc(row[k])}">{label}</a>' for k, label in
                     (("report", "report"), ("tearsheet", "tearsheet")) if row.get(k)]
            shown += "<br><small>" + " · ".join(links) + "</small>" if links else ""
        return f'<td{TEXT} data-v="{esc(text)}">{shown}</td>'
    number = finite(value)
    return f'<td data-v="{"" if number is None else repr(number)}">{show(value)}</td>'


def _table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f'<th data-key="{key}"{"" if show else TEXT}>{label}</th>'
                   for key, label, show in SHOWN)
    body = "".join("<tr>" + "".join(_cell(row, key, show) for key, _, show in SHOWN) + "</tr>"
                   for row in rows)
    return (f'<div class="wide"><table id="runs"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _chart(returns: dict[str, pd.DataFrame], tickers: dict[str, Any]) -> str:
    """Growth of 1 for every complete run (solid) and buy and hold per ticker (dashed), as SVG."""
    curves: list[tuple[str, pd.Series, bool]] = []
    seen_benchmarks: set[tuple] = set()
    for job, frame in returns.items():
        curves.append((job, (1 + frame["strategy"].fillna(0)).cumprod(), False))
        span = (frame.index[0], frame.index[-1], round(float(frame["benchmark"].sum()), 12))
        if span not in seen_benchmarks:  # runs on the same data share one buy-and-hold line
            seen_benchmarks.add(span)
            label = f"buy & hold {tickers.get(job) or job}"
            curves.append((label, (1 + frame["benchmark"].fillna(0)).cumprod(), True))
    curves = [c for c in curves if len(c[1]) > 1]
    if not curves:
        return "<p>No complete runs to draw.</p>"
    x0 = min(c[1].index[0] for c in curves).value
    x1 = max(c[1].index[-1] for c in curves).value
    y0 = min(float(c[1].min()) for c in curves)
    y1 = max(float(c[1].max()) for c in curves)
    sx = lambda t: PAD + (WIDTH - 2 * PAD) * (t - x0) / max(x1 - x0, 1)  # noqa: E731
    sy = lambda v: HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - y0) / max(y1 - y0, 1e-12)  # noqa: E731
    lines, legend = [], []
    for number, (name, curve, dashed) in enumerate(curves):
        step = max(1, len(curve) // MAX_POINTS)
        sample = pd.concat([curve.iloc[::step], curve.iloc[-1:]])
        points = " ".join(f"{sx(t.value):.1f},{sy(v):.1f}" for t, v in sample.items())
        colour = "#888" if dashed else COLOURS[number % len(COLOURS)]
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.4"{dash} '
                     f'points="{points}"><title>{esc(name)}: {curve.iloc[-1]:.3f}</title></polyline>')
        legend.append(f'<span><i style="background:{colour}"></i>{esc(name)}</span>')
    axis = (f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
            f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
            f'<line x1="{PAD}" y1="{sy(1.0):.1f}" x2="{WIDTH - PAD}" y2="{sy(1.0):.1f}" '
            'stroke="#ccc" stroke-dasharray="2 3"/>'
            f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" font-size="11">{y1:.2f}</text>'
            f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" font-size="11">{y0:.2f}</text>'
            f'<text x="{PAD}" y="{HEIGHT - PAD + 16}" font-size="11">{pd.Timestamp(x0).date()}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end" font-size="11">'
            f"{pd.Timestamp(x1).date()}</text>")
    return (f'<svg id="equity" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
            'xmlns="http://www.w3.org/2000/svg"><title>Growth of 1 per run</title>'
            f'{axis}{"".join(lines)}</svg>'
            f'<div class="legend">{"".join(legend)}</div>')


def _failures(failed: list[dict[str, Any]]) -> str:
    if not failed:
        return "<p>None.</p>"
    items = "".join(f"<li><b>{esc(r['job'])}</b> ({esc(r.get('status'))}) "
                    f"<code>{esc(r.get('overrides') or '')}</code>"
                    f"<pre>{esc(r.get('error') or '')}</pre></li>" for r in failed)
    return f'<ul id="failed">{items}</ul>'
