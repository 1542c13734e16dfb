"""risk.png: each method's VaR bands over the realised returns, exceedances marked, and the counts.

A VaR line that hugs the returns from below looks good whatever its calibration; the marked
exceedances and their count against the expected number are what show whether it is right.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtests.outputs.plots import _pyplot, _save

LEVEL_COLOURS = ("tab:orange", "tab:red", "tab:purple", "tab:brown")


def _levels(var: pd.DataFrame) -> list[str]:
    """The var_* columns, lowest level first (var_95 before var_99)."""
    return sorted((c for c in var.columns if c.startswith("var_")), key=lambda c: int(c[4:]))


def write_risk_plot(path: Path, var: pd.DataFrame, title: str) -> None:
    """One panel per method (realised return, -VaR per level, exceedances), then the counts."""
    plt = _pyplot()
    methods = list(dict.fromkeys(var["method"]))
    levels = _levels(var)
    fig, axes = plt.subplots(len(methods) + 1, 1, figsize=(12, 2.6 * len(methods) + 3.2),
                             squeeze=False)
    known = var.dropna(subset=["realised"])
    for ax, method in zip(axes[:-1, 0], methods):
        part = known[known["method"] == method]
        dates = pd.to_datetime(part["date"])
        ax.plot(dates, part["realised"], lw=0.5, color="0.45", label="realised next-day log return")
        for key, colour in zip(levels, LEVEL_COLOURS):
            ax.plot(dates, -part[key], lw=0.8, color=colour, label=f"-VaR {key[4:]}%")
            hit = part["realised"] < -part[key]
            ax.scatter(dates[hit], part["realised"][hit], s=10, color=colour, zorder=3,
                       label=f"exceedances {key[4:]}% ({int(hit.sum())})")
        ax.set_title(f"{method}", fontsize=10, loc="left")
        ax.legend(loc="lower left", fontsize=7, ncol=len(levels) * 2 + 1)
        ax.set_ylabel("log return")
    limits = [ax.get_ylim() for ax in axes[:-1, 0]]  # one scale: the methods compare by eye
    for ax in axes[:-1, 0]:
        ax.set_ylim(min(low for low, _ in limits), max(high for _, high in limits))
    _counts(axes[-1, 0], known, methods, levels)
    fig.suptitle(f"{title}\nOne-day VaR forecasts (out of sample) over the realised returns",
                 fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _counts(ax, known: pd.DataFrame, methods: list[str], levels: list[str]) -> None:
    """Exceedances per method and level beside the number a correct VaR would give."""
    width = 0.8 / max(1, len(levels))
    x = np.arange(len(methods))
    for i, (key, colour) in enumerate(zip(levels, LEVEL_COLOURS)):
        counts = [int((p["realised"] < -p[key]).sum()) for _, p in
                  ((m, known[known["method"] == m]) for m in methods)]
        days = int((known["method"] == methods[0]).sum()) if methods else 0
        expected = days * (1 - int(key[4:]) / 100)
        ax.bar(x + i * width, counts, width, color=colour, label=f"{key[4:]}% exceedances")
        ax.axhline(expected, color=colour, ls="--", lw=1,
                   label=f"expected at {key[4:]}% ({expected:.1f} of {days} days)")
    ax.set_xticks(x + width * (len(levels) - 1) / 2, methods)
    ax.set_title("Exceedances per method against the expected number", fontsize=10, loc="left")
    ax.legend(fontsize=7)
