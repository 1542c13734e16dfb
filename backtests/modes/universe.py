"""A universe run: many tickers' forecasts scored per ticker and across tickers; no portfolio trades.

Trading a portfolio of the forecasts is a separate step (issue 13); this run answers the question
before it: do the forecasts rank tomorrow's returns better than chance, and better than ridge and
plain short-term reversal? Every artifact is written as a single run writes its own: predictions.csv
(long form), metrics.json (per_ticker and cross_section blocks; last), report.html, universe.html.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_csv, write_json
from backtests.data.base import MarketData
from backtests.data.universe import Universe, load_panel
from backtests.modes.stages import Timings
from backtests.outputs.figures.universe import write_ic_plot
from backtests.outputs.pages.universe import write_universe_pages
from backtests.outputs.results import git_commit, package_versions, stored_result
from backtests.pipeline.forecasts import check_history, feature_warmup
from backtests.pipeline.universe import (
    finish_long,
    global_forecasts,
    long_form,
    per_ticker_forecasts,
)
from forecasting.universe.scoring import cross_section_scores, per_ticker_scores

log = logging.getLogger(__name__)


def load_universe(cfg: DictConfig) -> tuple[Universe, dict[str, MarketData], dict[str, str]]:
    """The universe settings, the tickers that loaded with enough history, and those left out."""
    universe: Universe = instantiate(cfg.universe)
    tickers = universe.members(cfg.data)
    warmup = feature_warmup(instantiate(cfg.features))

    def usable(market: MarketData) -> None:
        if warmup is not None:
            check_history(cfg, market, warmup)

    markets, left_out = load_panel(cfg.data, tickers, usable)
    return universe, markets, left_out


def universe_forecasts(cfg: DictConfig, universe: Universe,
                       markets: dict[str, MarketData]) -> tuple[pd.DataFrame, dict]:
    """(long-form predictions, how they were made) for the configured model."""
    if universe.model == "global":
        long = global_forecasts(cfg, universe, markets)
        return finish_long(long, markets), {"model": "global", "trained": len(markets)}
    frames, keys, trained = per_ticker_forecasts(cfg, markets, universe.n_jobs)
    return finish_long(long_form(frames), markets), {"model": "per_ticker", "trained": trained,
                                                     "cache_keys": keys}


def run_universe(cfg: DictConfig) -> float:
    """Run the universe experiment, write its folder, and return the mean daily IC (0 if none)."""
    timings = Timings()
    out = Path(cfg.paths.output_dir)
    stored = stored_result(out, cfg)
    if stored is not None:
        return stored
    with timings.stage("load universe"):
        universe, markets, left_out = load_universe(cfg)
    with timings.stage(f"{universe.model} forecasts"):
        long, how = universe_forecasts(cfg, universe, markets)
    returns_forecast = universe.model != "global" or universe.target != "csrank"
    with timings.stage("score"):
        closes = {t: m.frame["Close"] for t, m in markets.items()}
        per_ticker, summary = per_ticker_scores(long, closes, returns_forecast)
        cross, daily, folds = cross_section_scores(long, universe.spread_quantile)
    with timings.stage("write results"):
        metrics = {
            "universe": {"name": universe.name, "model": universe.model, "tickers": sorted(markets),
                         "left_out": left_out, "as_of": universe.as_of,
                         "target": universe.target if universe.model == "global" else "raw",
                         "market_input": universe.model == "global" and universe.market_input is not None,
                         "forecasts_are_returns": returns_forecast, "portfolio_backtest": False},
            "per_ticker": per_ticker, "per_ticker_summary": summary, "cross_section": cross,
            "test_period": {"start": long["date"].min().date().isoformat(),
                            "end": long["date"].max().date().isoformat(),
                            "days": int(long["date"].nunique())},
            "data": {t: m.summary() for t, m in sorted(markets.items())},
        }
        run_info = {"command": {"mode": "universe", "model": universe.model,
                                "universe": universe.name},
                    "config": OmegaConf.to_container(cfg, resolve=True),
                    "data_fingerprints": {t: m.fingerprint for t, m in markets.items()},
                    "forecasts": how, "packages": package_versions(),
                    "git_commit": git_commit(Path(__file__).parent), "timings_s": timings}
        write_csv(out / "predictions.csv", long, index=False, date_format="%Y-%m-%d")
        write_csv(out / "ic_daily.csv", daily, index_label="date", date_format="%Y-%m-%d")
        write_csv(out / "ic_folds.csv", folds)
        if cfg.report.plots:
            write_ic_plot(out / "ic.png", daily, folds)
        write_universe_pages(out, metrics, run_info)
        write_json(out / "run_info.json", run_info)
        write_json(out / "metrics.json", metrics)  # last: its presence marks a complete run
    log.info("universe: %s", summary["verdict"])
    log.info("cross-section: %s", cross["verdict"])
    log.info("results in %s", out)
    ic = cross.get("ic")
    return float(ic) if ic is not None and math.isfinite(ic) else 0.0
