"""The QuantStats HTML tearsheet, generated offline: no browser, no download."""
from __future__ import annotations

import html
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.atomic import atomic_path, write_text

log = logging.getLogger(__name__)


def write_tearsheet(path: Path, strategy: pd.Series, benchmark: pd.Series, title: str,
                    periods_per_year: int = 252) -> None:
    """QuantStats tearsheet of `strategy` against the `benchmark` returns (never a download).

    QuantStats cannot fit its regressions to returns that never move (a strategy that never
    traded) or to a handful of days; then the page says so instead of the run failing.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # ~130 "Arial" lines
    import quantstats as qs

    # QuantStats puts the title into its page unescaped; our titles are checked symbols and dates,
    # escaping keeps it that way for any name a user gives.
    title = html.escape(title)
    strategy = strategy.rename("Strategy")
    benchmark = benchmark.rename("Buy and hold")
    if len(strategy) < 5:
        _explain(path, title, f"the test period has only {len(strategy)} days")
        return
    if np.allclose(strategy.to_numpy(), 0.0):
        _explain(path, title, f"the strategy's returns are zero on every one of {len(strategy)} "
                 "days (it never held a position), so there is nothing to analyse")
        return
    try:
        with atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QuantStats' own matplotlib/pandas deprecation noise
            # output= keeps QuantStats from opening a browser; a Series benchmark keeps it offline.
            qs.reports.html(strategy, benchmark=benchmark, output=str(tmp), title=title,
                            periods_per_year=periods_per_year, download_filename=path.name)
            tmp.write_text(_self_contained(tmp.read_text(encoding="utf-8")), encoding="utf-8")
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        _explain(path, title, f"QuantStats could not analyse these returns ({exc})")


def _self_contained(page: str) -> str:
    """Strip what QuantStats 0.0.86's template gets wrong offline: `<body onload="save()">` calls a
    function the page never defines (a console error), and its favicon is fetched from the web."""
    page = page.replace('<body onload="save()">', "<body>")
    return re.sub(r'<link rel="shortcut icon" href="https?://[^"]*"[^>]*>',
                  '<link rel="icon" href="data:,">', page)


def _explain(path: Path, title: str, reason: str) -> None:
    log.warning("tearsheet: %s; writing a short page that says so", reason)
    write_text(path, "<!doctype html><html><head><meta charset='utf-8'><title>"
               f"{title}</title></head><body><h1>{title}</h1><p>No QuantStats tearsheet: "
               f"{html.escape(reason)}. See metrics.json and returns.csv.</p></body></html>\n")
