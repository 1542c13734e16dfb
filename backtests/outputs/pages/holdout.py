"""holdout.html: the chosen setting over the selection period and over the opened holdout, side
by side, with the opening's count. A holdout opened before on the same data is marked at the top:
its figures are no longer an untouched test."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backtests.outputs.html import esc, fixed, page, pct, plural, share, table

# (path in a period block, label, formatter)
ROWS: tuple[tuple[tuple[str, ...], str, Callable[[Any], str]], ...] = (
    (("first",), "first day", str), (("last",), "last day", str), (("days",), "days", str),
    (("strategy", "total_return"), "strategy total return", pct),
    (("strategy", "sharpe"), "strategy Sharpe", fixed(2)),
    (("strategy", "max_drawdown"), "strategy max drawdown", pct),
    (("benchmark", "total_return"), "buy &amp; hold total return", pct),
    (("benchmark", "sharpe"), "buy &amp; hold Sharpe", fixed(2)),
    (("excess_return",), "excess total return", pct),
    (("forecast", "directional_accuracy"), "directional accuracy", share),
    (("forecast", "correlation"), "forecast-outcome correlation", fixed(3)),
    (("forecast", "mse_vs_ridge"), "MSE / ridge's", fixed(3)),
    (("forecast", "ic"), "IC (mean daily)", fixed(4)), (("forecast", "icir"), "ICIR", fixed(3)),
    (("forecast", "rank_ic"), "Rank IC", fixed(4)), (("forecast", "rank_icir"), "Rank ICIR", fixed(3)),
)


def opening_mark(result: dict[str, Any]) -> str:
    """The banner every page showing this opening carries: first opening, or opened N times."""
    number, holdout = result.get("opening"), esc(result["holdout"])
    if number is None:
        return (f'<p class="verdict">Holdout from {holdout} opened; the ledger is off, so this '
                "opening is not counted and earlier ones are unknown.</p>")
    if number == 1:
        return (f'<p class="verdict">First opening of the holdout from {holdout} on this data, after '
                f"{plural(int(result['trials_before'] or 0), 'trial')} on the selection period.</p>")
    return (f'<p class="verdict bad" id="reopened"><b>Opened {number} times:</b> the holdout from '
            f"{holdout} on this data was opened before (opening {number}), so these figures are no "
            "longer an untouched test; every choice made after the first look used it.</p>")


def render_holdout(result: dict[str, Any]) -> str:
    """The whole page."""
    selection, held = result["selection"], result["holdout_period"]
    rows = []
    for path, label, show in ROWS:
        a, b = _get(selection, path), _get(held, path)
        if a is None and b is None:
            continue
        rows.append([label, "–" if a is None else show(a), "–" if b is None else show(b)])
    overrides = " ".join(result.get("overrides") or []) or "(the defaults)"
    body = [f"<h1>Holdout opening: {esc(result['label'])}</h1>", opening_mark(result),
            f'<p class="sub">Setting chosen from {esc(result["chosen_from"])}: '
            f"<code>{esc(overrides)}</code>. One walk-forward run over all the data "
            '(<a href="report.html">report.html</a>); its figures split at the holdout.</p>',
            table(["", "selection period", "holdout"], rows)]
    return page(f"Holdout {result['holdout']}", "".join(body))


def _get(block: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = block
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node
