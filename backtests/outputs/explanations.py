"""The run's attribution files: importance tables as CSV and their plots (report.explain=true)."""
from __future__ import annotations

import logging
from pathlib import Path

from backtests.atomic import write_csv
from backtests.outputs.figures.explain import write_drift_plot, write_importance_plot, write_lag_heatmap
from forecasting.explain import Explanation

log = logging.getLogger(__name__)

TABLES = ("importance.csv", "importance_lags.csv", "importance_lag_blocks.csv",
          "importance_folds.csv")
PLOTS = ("importance.png", "importance_lags.png", "importance_drift.png")


def write_explanation(folder: Path, explanation: Explanation, model: str, plots: bool) -> None:
    """Write the tables (and, with `plots`, the figures) that the report's section reads."""
    if not explanation.folds:
        log.warning("explain: no fold was explained; no attribution files written")
        return
    features, lags = explanation.importance(), explanation.lags()
    blocks, folds = explanation.lag_blocks(), explanation.by_fold()
    for name, frame in zip(TABLES, (features, lags, blocks, folds)):
        write_csv(folder / name, frame, index=False, float_format="%.8g")
    if plots:
        write_importance_plot(folder / PLOTS[0], features, blocks, model)
        write_lag_heatmap(folder / PLOTS[1], lags, model)
        write_drift_plot(folder / PLOTS[2], folds, model)
    log.info("explain: %s", ", ".join(TABLES + (PLOTS if plots else ())))
