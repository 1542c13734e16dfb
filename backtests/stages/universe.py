"""A universe run: many tickers' forecasts scored per ticker and across tickers, then traded.

First the question before any trade: do the forecasts rank tomorrow's returns better than chance,
and better than ridge and plain short-term reversal? Then, beside it, every ticker's risk forecasts
and the market-sentiment index built from the forecasts; and with a portfolio strategy
(strategy=topk, market_neutral) a portfolio traded against the equal-weight benchmark
(stages/portfolio.py). Every artifact is written as a single run writes its own: predictions.csv
(long form), metrics.json (last), report.html, universe.html.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_csv, write_json
from backtests.data.base import MarketData
from backtests.data.universe import Universe, load_panel
from backtests.ledger.record import record_run
from backtests.outputs.explanations import write_universe_explanation
from backtests.outputs.figures.universe import write_ic_plot
from backtests.outputs.pages.universe import write_universe_pages
from backtests.outputs.results import git_commit, package_versions, stored_result
from backtests.pipeline.forecasts import check_history, feature_warmup
from backtests.pipeline.metrics import run_objective
from backtests.pipeline.risk import risk_settings
from backtests.pipeline.universe import (
    closes_panel,
    explains_universe,
    finish_long,
    global_run,
    long_form,
    per_ticker_forecasts,
)
from backtests.runcontext import group_choice, sweep_name
from backtests.settings.strategy import is_portfolio, strategy_class_and_params
from backtests.stages.portfolio import check_portfolio, trade_portfolio
from backtests.stages.risk_and_sentiment import risk_and_sentiment
from backtests.stages.timings import Timings
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
        run = global_run(cfg, universe, markets, explain=explains_universe(cfg))
        return finish_long(run.predictions, markets), {
            "model": "global", "trained": 0 if run.cached else len(markets), "cache_key": run.key,
            "explanation": run.explanation}
    own = per_ticker_forecasts(cfg, markets, universe.n_jobs, explain=explains_universe(cfg))
    return finish_long(long_form(own.predictions), markets), {
        "model": "per_ticker", "trained": own.trained, "cache_keys": own.keys,
        "explanation": own.explanation}


def run_universe(cfg: DictConfig) -> float:
    """Run the universe experiment, write its folder, and return the mean daily IC (0 if none)."""
    timings = Timings()
    out = Path(cfg.paths.output_dir)
    stored = stored_result(out, cfg)
    if stored is not None:
        return stored
    with timings.stage("load universe"):
        strategy_cls, strategy_params = strategy_class_and_params(cfg.strategy)
        universe, markets, left_out = load_universe(cfg)
        if is_portfolio(strategy_cls):  # enough names for it, before any forecast is made
            check_portfolio(strategy_cls, strategy_params, markets)
    with timings.stage(f"{universe.model} forecasts"):
        long, how = universe_forecasts(cfg, universe, markets)
    returns_forecast = universe.model != "global" or universe.target != "csrank"
    with timings.stage("score"):
        closes = {t: m.frame["Close"] for t, m in markets.items()}
        per_ticker, summary = per_ticker_scores(long, closes, returns_forecast)
        cross, daily, folds = cross_section_scores(long, universe.spread_quantile)
    name = universe.label  # a list given on the command line is named after its members
    title = f"Universe {name} · {universe.model} · {len(markets)} tickers"
    extras = risk_and_sentiment(cfg, markets, long, timings, risk_settings(cfg), returns_forecast)
    trading: dict = {}
    trials = None
    commit = git_commit(Path(__file__).parent)
    if is_portfolio(strategy_cls):
        traded = trade_portfolio(cfg, markets, long, extras, out, timings, title)
        trading = traded.metrics
        assert traded.returns is not None
        trials = record_run(cfg, dataset_fingerprint(markets), f"universe {name}",
                            traded.returns, trading["strategy"]["sharpe"],
                            traded.metrics["portfolio"]["strategy_name"], out, commit)
    else:
        log.info("no portfolio backtest: strategy %s trades one ticker (strategy=topk or "
                 "strategy=market_neutral trade the universe)", strategy_cls.__name__)
        extras.finish(None, closes_panel(markets), out, trading, title, bool(cfg.report.plots))
    with timings.stage("write results"):
        explanation = how.pop("explanation", None)  # attributions (report.explain=true)
        explained = explanation is not None and write_universe_explanation(
            out, explanation, OmegaConf.to_container(cfg.forecaster, resolve=True), bool(cfg.report.plots),
            universe.model)
        metrics = {
            "universe": {"name": name, "model": universe.model, "tickers": sorted(markets),
                         "left_out": left_out, "as_of": universe.as_of,
                         "target": universe.target if universe.model == "global" else "raw",
                         "market_input": universe.model == "global" and universe.market_input is not None,
                         "forecasts_are_returns": returns_forecast,
                         "portfolio_backtest": "portfolio" in trading, "attributions": explained},
            "per_ticker": per_ticker, "per_ticker_summary": summary, "cross_section": cross,
            "test_period": {"start": long["date"].min().date().isoformat(),
                            "end": long["date"].max().date().isoformat(),
                            "days": int(long["date"].nunique())},
            **trading,
            "data": {t: m.summary() for t, m in sorted(markets.items())},
        }
        run_info = {"command": {"mode": "universe", "model": universe.model,
                                "universe": name, "strategy": group_choice("strategy")},
                    "sweep": sweep_name(),
                    "config": OmegaConf.to_container(cfg, resolve=True),
                    "data_fingerprint": dataset_fingerprint(markets),  # the ledger's, as a single run's
                    "data_fingerprints": {t: m.fingerprint for t, m in markets.items()},
                    "forecasts": how, "packages": package_versions(),
                    "git_commit": commit, "timings_s": timings}
        write_csv(out / "predictions.csv", long, index=False, date_format="%Y-%m-%d")
        write_csv(out / "ic_daily.csv", daily, index_label="date", date_format="%Y-%m-%d")
        write_csv(out / "ic_folds.csv", folds)
        if cfg.report.plots:
            write_ic_plot(out / "ic.png", daily, folds)
        write_universe_pages(out, {**metrics, "trials": trials}, run_info)
        if trials is not None:
            write_json(out / "trials.json", trials)  # before metrics.json, which marks completion
        write_json(out / "run_info.json", run_info)
        write_json(out / "metrics.json", metrics)  # last: its presence marks a complete run
    if cfg.get("logger") is not None:  # an experiment tracker (logger=mlflow), after the files
        instantiate(cfg.logger).log_run(out, {**metrics, "trials": trials}, run_info)
    log.info("universe: %s", summary["verdict"])
    if "portfolio" in trading:
        log.info("portfolio: %s", trading["portfolio"]["verdict"])
    log.info("cross-section: %s", cross["verdict"])
    log.info("results in %s", out)
    return run_objective(metrics)  # a portfolio's Sharpe, else the mean daily IC


def dataset_fingerprint(markets: Mapping[str, MarketData]) -> str:
    """One fingerprint for the universe's data: every ticker's, in ticker order (the ledger's key)."""
    joined = ";".join(f"{t}:{m.fingerprint}" for t, m in sorted(markets.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]
