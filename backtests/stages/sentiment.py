"""The sentiment stage: the market-sentiment index a universe's forecasts make, and its judgement.

It is known before the portfolio trades (the regime filter may scale its exposure by it). It reads
the forecasts as returns across tickers, so a single ticker (no cross-section) and forecasts that
are cross-sectional ranks (universe.target=csrank: they say nothing of the market) make none.
With point-in-time membership the index and its outcomes count each date's members only.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.atomic import write_csv
from backtests.stages.forecasts import Forecasts
from backtests.stages.markets import Markets

log = logging.getLogger(__name__)


@dataclass
class Sentiment:
    """What the sentiment stage hands on: sentiment.csv's table, its metrics block, the regime."""

    table: pd.DataFrame      # the index and the outcomes it is judged on, by date
    block: dict[str, Any]    # metrics.json's `sentiment`
    regime: pd.Series | None  # exposure scale by date for the regime filter, or None


def sentiment_model(cfg: DictConfig) -> Any | None:
    """The configured index (forecasting.universe.sentiment), or None when switched off."""
    node = cfg.get("sentiment")
    model = instantiate(node) if node is not None else None
    return model if model is not None and model.enabled else None


def sentiment_stage(cfg: DictConfig, loaded: Markets, forecasts: Forecasts) -> Sentiment | None:
    """The index and its judgement, or None (off, one ticker, or forecasts that are ranks)."""
    model = sentiment_model(cfg)
    if model is None or loaded.single:
        return None
    if not forecasts.returns:
        log.info("sentiment: no index, the forecasts are cross-sectional ranks, not returns")
        return None
    table, block = model.evaluate(forecasts.long, loaded.member_closes())
    block["settings"] = {"dead_band": model.dead_band, "week": model.week}
    log.info("sentiment: %s", block["verdict"])
    return Sentiment(table, block, model.scale(table))


def write_sentiment(out: Path, sentiment: Sentiment, title: str, plots: bool) -> None:
    """sentiment.csv (breadth, mean_forecast, dispersion first) and its figure."""
    first = ["breadth", "mean_forecast", "dispersion"]
    table = sentiment.table[first + [c for c in sentiment.table.columns if c not in first]]
    write_csv(out / "sentiment.csv", table, index_label="date", date_format="%Y-%m-%d",
              float_format="%.8g")
    if plots:
        from backtests.outputs.figures.sentiment import write_sentiment_plot

        write_sentiment_plot(out / "sentiment.png", sentiment.table, title)
