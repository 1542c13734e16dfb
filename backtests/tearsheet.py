"""The QuantStats HTML tearsheet and the forecast plot, both generated offline."""
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


def write_forecast_plot(path: Path, predictions: pd.DataFrame, equity: pd.DataFrame, title: str) -> None:
    """Predicted vs actual next close over the test period, and strategy vs benchmark equity."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    known = predictions.dropna(subset=["actual_next_close"])
    top.plot(known.index, known["actual_next_close"], lw=1.0, color="black", label="actual next close")
    top.plot(predictions.index, predictions["predicted_next_close"], lw=0.8, color="tab:orange",
             alpha=0.8, label="LSTM forecast of next close")
    top.set_ylabel("price")
    top.set_title(title)
    top.legend(loc="upper left")
    for column, colour in zip(equity.columns, ("tab:blue", "tab:gray")):
        bottom.plot(equity.index, equity[column], lw=1.0, color=colour, label=column)
    bottom.set_ylabel("equity")
    bottom.legend(loc="upper left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
