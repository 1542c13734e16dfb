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
            table(header, rows), _comparison(block), _fits(block.get("fits")), _notes(),
            figure(folder / "risk.png", CAPTION)]


def _fits(fits: dict[str, Any] | None) -> str:
    """Which fits failed or did not converge, and what was used instead (nothing hidden)."""
    if not fits:
        return ""
    failed = {m: f for m, f in fits.items() if f.get("not_converged")}
    if not failed:
        return ("<p>Model fits: every fold's fit converged (or the method has nothing to fit), "
                f"{num(max(f.get('folds', 0) for f in fits.values()), 0)} folds.</p>")
    said = []
    for method, f in failed.items():
        text = f"{esc(method)}: {f['not_converged']} of {f['folds']} fits failed or did not converge"
        if f.get("previous_parameters"):
            text += (f"; folds {esc(', '.join(map(str, f['previous_parameters'])))} used the "
                     "previous fold's parameters")
        if f.get("unconverged_used"):
            text += (f"; folds {esc(', '.join(map(str, f['unconverged_used'])))} (nothing earlier "
                     "to fall back on) used their unconverged estimate")
        said.append(text)
    return f'<p class="bad">Model fits: {"; ".join(said)}.</p>'


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


def universe_risk_section(block: dict[str, Any] | None, folder: Path) -> list[str]:
    """A universe's risk: the portfolio's VaR backtests (when one traded), its risk contributions,
    and per level how many tickers each method's forecasts pass."""
    if not block:
        return []
    parts = []
    if block.get("methods"):
        parts += risk_section(block, folder)
        parts[0] = "<h2>Portfolio risk: one-day VaR and ES of the weights held</h2>"
        parts.append("<p>The portfolio's VaR combines each method's per-ticker volatility forecasts "
                     "(refit on every walk-forward fold) with the tickers' trailing 250-day "
                     "correlation (normal quantiles) for the weights held at each close; "
                     "<i>historical</i> applies those weights to the last 250 days' returns (a "
                     "rolling replay, nothing refit). Days the book is flat are left out. Realised: "
                     "the portfolio's next-day log return from returns.csv.</p>")
    else:
        parts.append("<h2>Risk forecasts</h2>")
        if block.get("verdict"):
            parts.append(f'<div class="verdict">{esc(block["verdict"])}</div>')
        parts += _contributions(block.get("contributions") or {}, folder)
    tally = block.get("per_ticker") or {}
    rows = [(esc(method), esc(f"{key[4:]}%"), f"{n['passes']} of {tally.get('tickers', '?')}",
             f"{n['lowest_quantile_loss']} of {tally.get('tickers', '?')}")
            for key, by_method in (tally.get("levels") or {}).items()
            for method, n in by_method.items()]
    if rows:
        parts += ["<h3>Per ticker: which method's VaR holds up</h3>",
                  table(("Method", "Level", "Tickers passing Kupiec and Christoffersen",
                         "Tickers where its quantile loss is the lowest"), rows),
                  '<p>Every ticker\'s rows are in <a href="var.csv">var.csv</a> and '
                  '<a href="var_backtests.csv">var_backtests.csv</a>.</p>']
    return parts


def _contributions(block: dict[str, Any], folder: Path) -> list[str]:
    latest = block.get("latest") or {}
    if not latest:
        return []
    rows = [(esc(t), share(v, 1), share((block.get("mean") or {}).get(t), 1))
            for t, v in list(latest.items())[:10]]
    return [f"<h3>Who carries the risk (Euler contributions, {esc(block.get('method'))} "
            f"volatilities)</h3>",
            f"<p>Each name's share of the portfolio's volatility on {esc(block.get('date'))} (the "
            f"shares sum to 100%; a hedge has a negative share) and on average over the test "
            f'period; all dates in <a href="risk_contributions.csv">risk_contributions.csv</a>.</p>',
            table(("Ticker", "Latest share", "Mean share"), rows),
            figure(folder / "risk_contributions.png", "Shares of the portfolio's volatility over "
                   "time (each a 21-session mean, as names rotate) and the latest shares")]
