"""report.html's "Live record" section: the forecast journal's sessions, scored apart from the
backtest (backtests/journal/scores.py). Its figures are live.json's; the page only shows them."""
from __future__ import annotations

from typing import Any

from backtests.outputs.html import esc, num, pct, plural, share, table


def live_section(block: dict[str, Any] | None) -> list[str]:
    """The section's HTML pieces (none when the run keeps no journal)."""
    if not block or not block.get("entries"):
        return []
    head = f"live since {esc(block['since'])}: {plural(int(block['sessions']), 'session')}"
    verdict = str(block.get("verdict", ""))
    plain = f"live since {block['since']}: {block['sessions']} sessions"
    rest = verdict[len(plain):] if verdict.startswith(plain) else f" {verdict}"  # the head once
    parts = ["<h2>Live record</h2>", f"<p><b>{head}</b>{esc(rest)} ({plural(int(block['entries']), 'entry')} "
             f"in the journal <code>{esc(block.get('journal', ''))}</code>, the last made at the close of "
             f"{esc(block['last'])}).</p>"]
    rows = []
    for name, f in sorted((block.get("horizons") or {}).items(), key=lambda kv: int(kv[0][1:])):
        if not f.get("n"):
            continue
        rows.append([esc(name[1:]), str(f["n"]), pct(f["mae"], 2), pct(f["persistence_mae"], 2),
                     num(f.get("mse_ratio"), 3), share(f["hit_rate"]), share(f.get("p_up_hit_rate")),
                     share(f["up_share"])])
    if rows:
        parts.append(table(("Horizon (sessions)", "Forecasts scored", "MAE", "Persistence MAE",
                            "MSE / persistence", "Hit rate", "P(up) hit rate", "Up share"), rows))
    against = block.get("against_backtest")
    if against:
        parts.append(table(
            ("Live sessions", "Live return", "Backtest windows", "Backtest 5%", "Median", "95%",
             "Percentile", "Consistent"),
            [[str(against["sessions"]), pct(against["live_return"], 2), str(against["windows"]),
              pct(against["backtest_p05"], 2), pct(against["backtest_median"], 2),
              pct(against["backtest_p95"], 2), share(against["percentile"], 0),
              "yes" if against["consistent"] else "no"]]))
    parts.append("<p>Entries are written at the close, before the outcome exists, and never rewritten; "
                 "the live return approximates the engine (the exposure held overnight, the target "
                 "from the open, costs on the change). Recompute every figure from the journal's "
                 "entries.jsonl and outcomes.jsonl alone: <code>backtests.journal.scores."
                 "live_scores</code>.</p>")
    return parts
