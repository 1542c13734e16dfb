"""report.html's "Forecast distributions" section: per horizon the verdict, every method's scores
side by side, and the fan chart and calibration figures.

Read from metrics.json's `distribution` block only (computed from distribution.csv), so the page,
the figures and the files cannot disagree: the cells use the figures' own labels. Every string is
escaped; method names may come from the user's config.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backtests.outputs.figures.distribution import (
    CALIBRATION,
    FAN,
    MODEL,
    brier_label,
    coverage_label,
    horizon_keys,
    method_name,
    pit_label,
)
from backtests.outputs.html import esc, figure, finite, fixed, table

FAN_CAPTION = ("For each horizon, the LSTM's 5-95% and 25-75% bands and median at each close of "
               "the last sessions, the best baseline's 5-95% band dashed, and the h-session log "
               "return that followed each close as a point (red: outside the 5-95% band); about "
               "one point in ten outside is what a calibrated 90% band gives")
CALIBRATION_CAPTION = ("Left: the histogram of PIT values F(y), the forecast's CDF at the realised "
                       "return, which is flat for a calibrated forecast (the best baseline's as an "
                       "outline). Right: of the days with a given P(up), the share that rose; a "
                       "reliable P(up) lies on the diagonal")
HEADER = ("Method", "CRPS", "× best", "90% coverage (p)", "50% coverage (p)", "PIT uniform p",
          "Brier skill (p)")


def distribution_section(block: Mapping[str, Any] | None, folder: Path) -> list[str]:
    """The section's HTML parts, or nothing when the run forecast no distributions."""
    if not block:
        return []
    keys = horizon_keys(block)
    verdicts = "<br>".join(esc(block[key].get("verdict", "")) for key in keys)
    parts = ["<h2>Forecast distributions</h2>", f'<div class="verdict">{verdicts}</div>']
    for key in keys:
        parts += [f"<h3>{esc(key[1:])}-session log return</h3>", horizon_table(block[key])]
    parts += [_notes(), figure(folder / FAN, FAN_CAPTION),
              figure(folder / CALIBRATION, CALIBRATION_CAPTION)]
    return parts


def horizon_table(scores: Mapping[str, Any]) -> str:
    """Every method's scores at one horizon (the LSTM first), CRPS also as a multiple of the best."""
    methods = scores.get("methods") or {}
    if not methods:
        return f"<p>{esc(scores.get('verdict', 'Nothing to score.'))}</p>"
    crps = {m: finite(s.get("crps")) for m, s in methods.items()}
    known = [v for v in crps.values() if v is not None]
    best = min(known) if known else None
    rows = []
    for method, s in methods.items():
        value = crps[method]
        ratio = fixed(3)(value / best) if value is not None and best else "–"
        name = esc(method_name(method))
        rows.append((f"<b>{name}</b>" if method == MODEL else name, _crps(value),
                     f"<b>{ratio}</b>" if value is not None and value == best else ratio,
                     esc(coverage_label(s, "90")), esc(coverage_label(s, "50")), esc(pit_label(s)),
                     esc(brier_label(s))))  # "<0.001" is text, not a tag
    return table(HEADER, rows)


def _crps(value: float | None) -> str:
    return "–" if value is None else f"{value:.6f}"


def _notes() -> str:
    return ("<p>Each horizon's methods are scored on the same dates, those whose h-session return "
            "is known. CRPS (lower is better) is in log-return units; × best is its ratio to the "
            "lowest CRPS at that horizon (bold). Coverage is the share of realised returns inside "
            "the central 90% and 50% intervals, with the p-value of a test that it equals the "
            "nominal rate (overlapping targets: a HAC variance); PIT uniform p tests whether the "
            "forecast CDFs at the outcomes are uniform (a small p: miscalibrated); Brier skill is "
            "1 minus the Brier score of P(up) over the climatology's, whose P(up) is the share of "
            "rises known at each close, tested by Diebold-Mariano. How each is computed: "
            "docs/distribution-scores.md. Every forecast is in "
            '<a href="distribution.csv">distribution.csv</a>.</p>')
