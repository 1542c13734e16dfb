"""The run's attribution files: importance tables as CSV and their plots (report.explain=true).

The plots depend only on the attributions (not on the strategy), so with an ArtifactCache a rerun
copies the figures it drew before instead of drawing them again (~1.5 s).
A universe run (global or per-ticker models) writes the same files for its pooled attributions, and
one more table with each ticker's own (`importance_tickers.csv`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.atomic import write_csv
from backtests.outputs.artifact_cache import ArtifactCache
from backtests.outputs.figures.explain import write_drift_plot, write_importance_plot, write_lag_heatmap
from backtests.outputs.html import forecaster_label
from forecasting.explain import Explanation

log = logging.getLogger(__name__)

TABLES = ("importance.csv", "importance_lags.csv", "importance_lag_blocks.csv",
          "importance_folds.csv")
PLOTS = ("importance.png", "importance_lags.png", "importance_drift.png")
TICKERS = "importance_tickers.csv"
TICKER_COLUMNS = ["ticker", "feature", "permutation_mse_increase", "permutation_std",
                  "integrated_gradients", "rank"]


def write_explanation(folder: Path, explanation: Explanation, model: str, plots: bool,
                      cache: ArtifactCache | None = None) -> None:
    """Write the tables (and, with `plots`, the figures) that the report's section reads; with a
    `cache`, a figure already drawn from the same tables and label is copied, not drawn."""
    if not explanation.folds:
        log.warning("explain: no fold was explained; no attribution files written")
        return
    features, lags = explanation.importance(), explanation.lags()
    blocks, folds = explanation.lag_blocks(), explanation.by_fold()
    for name, frame in zip(TABLES, (features, lags, blocks, folds)):
        write_csv(folder / name, frame, index=False, float_format="%.8g")
    if plots:
        drawn = {PLOTS[0]: ([features, blocks, model],
                            lambda path: write_importance_plot(path, features, blocks, model)),
                 PLOTS[1]: ([lags, model], lambda path: write_lag_heatmap(path, lags, model)),
                 PLOTS[2]: ([folds, model], lambda path: write_drift_plot(path, folds, model))}
        for name, (inputs, draw) in drawn.items():
            if cache is None:
                draw(folder / name)
            else:
                cache.file(folder / name, inputs, draw)
    log.info("explain: %s", ", ".join(TABLES + (PLOTS if plots else ())))


def ticker_importance(explanation: Explanation) -> pd.DataFrame:
    """One row per ticker and feature (TICKER_COLUMNS), each ticker's own ranks, tickers sorted."""
    groups = sorted({f.group for f in explanation.folds} - {"all"})
    frames = [explanation.for_group(t).importance().assign(ticker=t) for t in groups]
    if not frames:
        return pd.DataFrame(columns=TICKER_COLUMNS)
    return pd.concat(frames, ignore_index=True)[TICKER_COLUMNS]


def universe_model_label(model: str, forecaster: Any) -> str:
    """"global LSTM" or "per-ticker LSTM": a universe model's name in labels and sentences."""
    kind = "per-ticker" if model == "per_ticker" else "global"
    return f"{kind} {forecaster_label(forecaster)}"


def write_universe_explanation(folder: Path, explanation: Explanation, forecaster: Any,
                               plots: bool, model: str = "global",
                               cache: ArtifactCache | None = None) -> bool:
    """The pooled files (as a single run's) and importance_tickers.csv; True if written.

    `forecaster`: the run's resolved forecaster settings; `model`: universe.model (for the labels).
    A global model's groups come from its panel folds, per-ticker models' from each ticker's own
    walk-forward (`forecasting.explain.tickers.over_tickers`): the same files either way.
    """
    pooled = explanation.for_group("all")
    if not pooled.folds:
        log.warning("explain: no fold of the %s model was explained; no attribution files",
                    model.replace("_", "-"))
        return False
    write_explanation(folder, pooled, universe_model_label(model, forecaster), plots, cache)
    write_csv(folder / TICKERS, ticker_importance(explanation), index=False, float_format="%.8g")
    log.info("explain: %s", TICKERS)
    return True
