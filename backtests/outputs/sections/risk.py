"""The report's risk section: every method's VaR backtests side by side, the verdict, the plot.

Read from metrics.json's `risk` block only (the numbers var_backtests.csv holds), so the page and
the files cannot disagree. Every string is escaped; method names may come from the user's config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from backtests.outputs.html import esc, figure, num, share, table

CAPTION = ("Each method's one-day VaR (drawn as -VaR) over the realised next-day log returns, the "
           "exceedances marked; below, the exceedances per method against the number a correct "
           "VaR gives")


def risk_section(block: dict[str, Any] | None, folder: Path) -> list[str]:
    """The section's HTML parts, or nothing when the run made no risk forecasts."""
    if not block:
        return []
    rows = []
    for method, by_level in (block.get("methods") or {}).items():
        for key, s in by_level.items():
            rows.append((esc(method), esc(f"{key[4:]}%"), num(s.get("days"), 0),
                         f"{num(s.get('exceedances'), 0)} ({share(s.get('exceedance_rate'), 2)})",
                         share(s.get("expected_rate"), 0), _p(s.get("kupiec_p")),
                         _p(s.get("christoffersen_ind_p")), _p(s.get("christoffersen_cc_p")),
                         num(s.get("quantile_loss"), 6),
                         '<span class="good">yes</span>' if s.get("passes") else
                         '<span class="bad">no</span>'))
    header = ("Method", "Level", "Days", "Exceedances", "Expected", "Kupiec p",
              "Christoffersen ind. p", "Christoffersen cc p", "Quantile loss", "Passes both")
    return ["<h2>Risk forecasts: one-day VaR and ES</h2>",
            f'<div class="verdict">{esc(block.get("verdict", ""))}</div>',
            table(header, rows), _comparison(block), _notes(),
            figure(folder / "risk.png", CAPTION)]


def _p(value: Any) -> str:
    return num(value, 3)


def _comparison(block: dict[str, Any]) -> str:
    rows = []
    for key, entry in (block.get("comparison") or {}).items():
        rows.append((esc(f"{key[4:]}%"), esc(entry.get("lowest_quantile_loss") or "–"),
                     esc(entry.get("best_baseline") or "–"), num(entry.get("dm_statistic")),
                     _p(entry.get("dm_pvalue"))))
    return table(("Level", "Lowest quantile loss", "Best baseline", "DM statistic (LSTM - best)",
                  "DM p"), rows)


def _notes() -> str:
    return ("<p>Returns are daily log returns of the close; VaR and ES are positive losses; an "
            "exceedance is a day whose realised return is below minus the VaR. Kupiec tests the "
            "exceedance rate, Christoffersen's independence test whether exceedances cluster, "
            "and his conditional coverage test both; a method passes when both p-values are at "
            "least 0.05. The quantile (pinball) loss ranks the forecasts as quantiles (lower is "
            "better); the DM test compares the LSTM's daily quantile loss with the best "
            "baseline's (negative: the LSTM's is smaller). Every method was refit on each "
            "walk-forward fold's training window. The forecasts and backtests are in "
            '<a href="var.csv">var.csv</a> and <a href="var_backtests.csv">var_backtests.csv</a>.</p>')
