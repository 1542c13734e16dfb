"""The universe report's portfolio section: the strategy beside its equal-weight benchmark.

Read from metrics.json's `strategy`, `benchmark` and `portfolio` blocks only (the numbers
returns.csv gives), so the page, the tearsheet and the files cannot disagree. Every string is escaped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from backtests.outputs.html import esc, figure, num, pct, share, table

ROWS = (("Total return", "total_return", pct), ("CAGR", "cagr", pct),
        ("Sharpe", "sharpe", num), ("Sortino", "sortino", num),
        ("Max drawdown", "max_drawdown", pct), ("Volatility (annualised)", "volatility", pct),
        ("Time in market", "time_in_market", share), ("Round trips", "trades", lambda v: num(v, 0)),
        ("Win rate", "win_rate", share),
        ("Turnover (value traded / equity, per year)", "turnover", lambda v: num(v, 2)),
        ("Mean gross exposure", "gross_mean", share), ("Mean net exposure", "net_mean", share),
        ("Mean names held", "names_mean", lambda v: num(v, 1)),
        ("Rebalances", "rebalances", lambda v: num(v, 0)))
CAPTION = ("Growth of 1 for the portfolio and the equal-weight benchmark (same engine, same costs), "
           "their drawdowns, the portfolio's gross and net exposure at each close and the names held")


def portfolio_section(metrics: dict[str, Any], folder: Path) -> list[str]:
    """The section's HTML parts, or nothing when no portfolio was traded."""
    block = metrics.get("portfolio")
    if not block:
        return []
    s, b = metrics["strategy"], metrics["benchmark"]
    rows = [(esc(label), show(s.get(key)), show(b.get(key))) for label, key, show in ROWS]
    links = " · ".join(f'<a href="{n}">{n}</a>' for n in
                       ("tearsheet.html", "returns.csv", "trades.csv", "weights.csv", "holdings.csv")
                       if (folder / n).exists())
    return [f"<h2>Portfolio: {esc(block['strategy_name'])} against the equal-weight benchmark</h2>",
            f'<div class="verdict">{esc(block["verdict"])}</div>',
            table(("Figure", esc(block["strategy_name"]), "Equal weight, monthly"), rows),
            f"<p>{esc(block['how'])}</p>", f'<p class="sub">{links}</p>',
            figure(folder / "portfolio.png", CAPTION)]
