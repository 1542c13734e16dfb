"""The QuantStats HTML tearsheet, generated offline: no browser, no download."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pandas as pd

from backtests.atomic import atomic_path

log = logging.getLogger(__name__)


def write_tearsheet(path: Path, strategy: pd.Series, benchmark: pd.Series, title: str,
                    periods_per_year: int = 252) -> None:
    """QuantStats tearsheet of `strategy` against the `benchmark` returns (never a download)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # ~130 "Arial" lines
    import quantstats as qs

    strategy = strategy.rename("Strategy")
    benchmark = benchmark.rename("Buy & hold")
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QuantStats' own matplotlib/pandas deprecation noise
        # output= keeps QuantStats from opening a browser; a Series benchmark keeps it offline.
        qs.reports.html(strategy, benchmark=benchmark, output=str(tmp), title=title,
                        periods_per_year=periods_per_year, download_filename=path.name)
