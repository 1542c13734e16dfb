"""The record stage: what a run's outputs say, written once for any kind of run.

The forecasts' scores (a ticker's against persistence and ridge; a universe's per ticker and across
tickers), the risk and sentiment files, metrics.json, run_info.json, the pages (report.html, and a
universe's universe.html), the ledger's trial and trials.json, the experiment tracker. metrics.json
is written last: its presence marks a complete run (a resumed sweep skips it).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_csv, write_json
from backtests.ledger.record import record_run
from backtests.outputs.artifact_cache import ArtifactCache
from backtests.outputs.background import Background
from backtests.outputs.explanations import write_explanation, write_universe_explanation
from backtests.outputs.figures.distribution import write_distribution_figures
from backtests.outputs.figures.risk import write_risk_plot
from backtests.outputs.figures.universe import write_ic_plot
from backtests.outputs.html import forecaster_label, plural
from backtests.outputs.pages.universe import write_universe_pages
from backtests.outputs.plots import write_forecast_plot, write_skill_plot
from backtests.outputs.report import write_report
from backtests.outputs.results import (
    git_commit,
    package_versions,
    prediction_table,
    write_run_files,
)
from backtests.outputs.tearsheet import write_tearsheet
from backtests.pipeline.metrics import run_objective, sharpe_objective
from backtests.runcontext import group_choice, sweep_name
from backtests.stages.distribution import Distributions
from backtests.stages.forecasts import Forecasts
from backtests.stages.journal import book_decision, journal_book, journal_ticker
from backtests.stages.markets import Markets
from backtests.stages.portfolio import write_portfolio_files
from backtests.stages.risk import RiskForecasts, write_ticker_risk, write_universe_risk
from backtests.stages.sentiment import Sentiment, write_sentiment
from backtests.stages.timings import Timings
from backtests.stages.traded import Traded
from forecasting.universe.scoring import cross_section_scores, per_ticker_scores

log = logging.getLogger(__name__)


def common_info(cfg: DictConfig, loaded: Markets, command: dict[str, Any], commit: str | None,
                timings: Timings, **rest: Any) -> dict[str, Any]:
    """run_info.json: the command, the sweep, the resolved config, the data, what was cached,
    the packages and commit, the time per stage."""
    return {"command": command, "sweep": sweep_name(),
            "config": OmegaConf.to_container(cfg, resolve=True),
            "data_fingerprint": loaded.fingerprint, **rest,
            "packages": package_versions(), "git_commit": commit, "timings_s": timings}


def track(cfg: DictConfig, out: Path, metrics: dict, trials: dict | None, run_info: dict) -> None:
    """Log the finished run to the experiment tracker (logger=mlflow), after its files."""
    if cfg.get("logger") is not None:
        instantiate(cfg.logger).log_run(out, {**metrics, "trials": trials}, run_info)


def record_ticker(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, risk: RiskForecasts,
                  traded: Traded, timings: Timings,
                  distributions: Distributions | None = None,
                  background: Background | None = None) -> float:
    """A single ticker's files; the strategy's Sharpe ratio (0.0 for no trades, as sweepers need)."""
    out = Path(cfg.paths.output_dir)
    market, run = loaded.market, forecasts.run
    assert run is not None and traded.ticker is not None and traded.ticker_benchmark is not None
    result, bench, predictions = traded.ticker, traded.ticker_benchmark, run.predictions
    uses_forecast = bool(traded.metrics["strategy"]["uses_forecast"])
    start = predictions.index[0]
    strategy = group_choice("strategy") or traded.name
    period = f"{start.date()} to {predictions.index[-1].date()}"
    title = f"{market.ticker} · {strategy} · {period}"
    cache = ArtifactCache(cfg.paths.cache_dir, background)  # a rerun copies what it drew before
    if cfg.report.tearsheet:  # first of all: the longest drawing, in the background worker while
        year = int(cfg.report.periods_per_year)  # this process scores and writes the rest
        shown = (traded.metrics["strategy"]["time_in_market"],
                 traded.metrics["benchmark"]["time_in_market"])
        cache.file(out / "tearsheet.html", [result.returns, bench.returns, title, year, shown],
                   lambda path: write_tearsheet(path, result.returns, bench.returns, title, year,
                                                time_in_market=shown))
    metrics = {
        "strategy": traded.metrics["strategy"], "benchmark": traded.metrics["benchmark"],
        "forecast": (ticker_scores(cfg, predictions, loaded) if uses_forecast
                     else not_computed(traded.name)),
        "data": market.summary(),
        "test_period": {"start": start.date().isoformat(),
                        "end": predictions.index[-1].date().isoformat(),
                        "days": int(len(result.returns))},
    }
    table = prediction_table(predictions, market.frame["Close"])
    if risk.on:  # var.csv, var_backtests.csv and the `risk` block
        var, metrics["risk"] = write_ticker_risk(out, risk, market.ticker)
    if distributions is not None:  # distribution.csv and the `distribution` block
        metrics["distribution"] = write_distributions(out, distributions, market.frame["Close"])
    commit = git_commit(Path(__file__).parent)
    # Before report.html, so the page shows how many trials this data and period have seen. Not in
    # metrics.json: its figures depend on the ledger's history, and a rerun of the same settings
    # must write a byte-identical metrics.json.
    trials = record_run(cfg, loaded.fingerprint, loaded.label, traded.returns,
                        metrics["strategy"]["sharpe"], strategy, out, commit, *extension(loaded))
    live = journal_ticker(cfg, loaded, forecasts, result, "backtest")  # live.json, the journal
    run_info = common_info(
        cfg, loaded, {"ticker": market.ticker, "strategy": group_choice("strategy"), "mode": "backtest"},
        commit, timings, forecast_cache_key=run.key if uses_forecast else None,
        forecasts_from_cache=run.cached,
        risk_cache_key=risk.runs[market.ticker].key if risk.on else None,
        risk_forecasts_from_cache=risk.on and risk.runs[market.ticker].cached,
        **({} if distributions is None else {"distribution_cache_key": distributions.key,
                                              "distribution_baselines_from_cache": distributions.cached}))
    model = forecaster_label(run_info["config"]["forecaster"])
    if cfg.report.plots and uses_forecast:  # both plots are of the forecast
        equity = pd.DataFrame({"strategy": result.equity, "buy & hold": bench.equity})
        folds = metrics["forecast"]["per_fold"]
        cache.file(out / "forecast.png", [table, equity, title, model],
                   lambda path: write_forecast_plot(path, table, equity, title, model))
        cache.file(out / "forecast_skill.png", [predictions, folds, model],
                   lambda path: write_skill_plot(path, predictions, folds, model))
    if forecasts.explanation is not None:
        write_explanation(out, forecasts.explanation, model, bool(cfg.report.plots), cache)
    if cfg.report.plots and risk.on:  # the risk forecasts do not depend on the strategy: nor does
        risky = f"{market.ticker} · {period}"  # its title, so another strategy reuses the figure
        cache.file(out / "risk.png", [var, risky], lambda path: write_risk_plot(path, var, risky))
    if cfg.report.plots and "distribution" in metrics:  # read from distribution.csv and the block
        write_distribution_figures(out, metrics["distribution"], title, cache)
    write_report(out / "report.html", {**metrics, "trials": trials, "live": live}, run_info,
                 result.trades)
    if trials is not None:
        write_json(out / "trials.json", trials)  # before metrics.json, which marks completion
    if background is not None:
        background.wait()  # the figures and the tearsheet: before metrics.json too
    write_run_files(out, metrics, traded.returns, table, result.trades, run_info)
    track(cfg, out, metrics, trials, run_info)
    summarise(metrics, out)
    return sharpe_objective(metrics)


def extension(loaded: Markets) -> tuple[str, Callable[[str], str]]:
    """(the data's last date, its fingerprint cut at a date): what lets the ledger recognise a
    daily extension of a trial on record."""
    end = max(m.frame.index[-1] for m in loaded.markets.values())
    return end.date().isoformat(), lambda date: loaded.fingerprint_until(pd.Timestamp(date))


def summarise(metrics: dict, out: Path) -> None:
    """A single run's result in three log lines: the strategy beside buy-and-hold, the forecast."""
    s, b, f = metrics["strategy"], metrics["benchmark"], metrics["forecast"]
    log.info("strategy: total %+.1f%%, Sharpe %.2f, max drawdown %.1f%%, %s | buy & hold: "
             "total %+.1f%%, Sharpe %.2f, max drawdown %.1f%%", 100 * s["total_return"],
             s["sharpe"], 100 * s["max_drawdown"], plural(s["trades"], "trade"),
             100 * b["total_return"], b["sharpe"], 100 * b["max_drawdown"])
    log.info("forecast: %s", f["verdict"])
    log.info("results in %s", out)


def membership_block(universe: Any) -> dict[str, Any] | None:
    """metrics.json's universe.membership: the file, point in time or survivors only, its size."""
    if not universe.file:
        return None
    membership = universe.membership
    return {"file": str(universe.file), "point_in_time": membership is not None,
            "survivors": bool(universe.survivors),
            "spells": sum(len(s) for s in membership.spells.values()) if membership else None}


def record_universe(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, risk: RiskForecasts,
                    sentiment: Sentiment | None, traded: Traded | None, timings: Timings,
                    distributions: Distributions | None = None,
                    background: Background | None = None) -> float:
    """A universe's files; a portfolio's Sharpe ratio, else the mean daily IC (0 if none)."""
    out = Path(cfg.paths.output_dir)
    universe, markets, long = loaded.universe, loaded.markets, forecasts.long
    assert universe is not None
    name = universe.label  # a list given on the command line is named after its members
    title = f"Universe {name} · {universe.model} · {len(markets)} tickers"
    plots = bool(cfg.report.plots)
    with timings.stage("score"):
        closes = {t: m.frame["Close"] for t, m in markets.items()}
        per_ticker, summary = per_ticker_scores(long, closes, forecasts.returns)
        cross, daily, folds = cross_section_scores(long, universe.spread_quantile)
    trading: dict[str, Any] = dict(traded.metrics) if traded is not None else {}
    if traded is not None:
        write_portfolio_files(cfg, out, traded, title)
    if sentiment is not None:
        write_sentiment(out, sentiment, title, plots)
        trading["sentiment"] = sentiment.block
    if risk.on:
        trading["risk"] = write_universe_risk(out, risk, traded.book if traded else None,
                                              loaded.closes(), title, plots)
    if distributions is not None:  # distribution.csv (a ticker column) and per-ticker scores
        trading["distribution"] = write_universe_distributions(out, distributions, loaded.closes())
    commit = git_commit(Path(__file__).parent)
    trials = None
    if traded is not None:
        trials = record_run(cfg, loaded.fingerprint, loaded.label, traded.returns,
                            trading["strategy"]["sharpe"], traded.name, out, commit,
                            *extension(loaded))
    regime = sentiment is not None and sentiment.regime is not None
    live = journal_book(cfg, loaded, forecasts, traded, *book_decision(cfg, traded, regime),
                        "backtest")  # live.json, the journal
    explanation = forecasts.explanation  # attributions, when report.explain asks for them
    explained = explanation is not None and write_universe_explanation(
        out, explanation, OmegaConf.to_container(cfg.forecaster, resolve=True), plots, universe.model,
        ArtifactCache(cfg.paths.cache_dir, background))
    metrics = {
        "universe": {"name": name, "model": universe.model, "tickers": sorted(markets),
                     "left_out": loaded.left_out, "as_of": universe.as_of,
                     "membership": membership_block(universe),
                     "target": universe.target if universe.model == "global" else "raw",
                     "market_input": universe.model == "global" and universe.market_input is not None,
                     "forecasts_are_returns": forecasts.returns,
                     "portfolio_backtest": "portfolio" in trading, "attributions": explained},
        "per_ticker": per_ticker, "per_ticker_summary": summary, "cross_section": cross,
        "test_period": {"start": long["date"].min().date().isoformat(),
                        "end": long["date"].max().date().isoformat(),
                        "days": int(long["date"].nunique())},
        **trading,
        "data": {t: m.summary() for t, m in sorted(markets.items())},
    }
    run_info = common_info(
        cfg, loaded, {"mode": "universe", "model": universe.model, "universe": name,
                      "strategy": group_choice("strategy")}, commit, timings,
        data_fingerprints={t: m.fingerprint for t, m in markets.items()}, forecasts=forecasts.how)
    write_csv(out / "predictions.csv", long, index=False, date_format="%Y-%m-%d")
    write_csv(out / "ic_daily.csv", daily, index_label="date", date_format="%Y-%m-%d")
    write_csv(out / "ic_folds.csv", folds)
    if plots:
        write_ic_plot(out / "ic.png", daily, folds)
    write_universe_pages(out, {**metrics, "trials": trials, "live": live}, run_info)
    if trials is not None:
        write_json(out / "trials.json", trials)  # before metrics.json, which marks completion
    if background is not None:
        background.wait()  # the attribution figures: before metrics.json too
    write_json(out / "run_info.json", run_info)
    write_json(out / "metrics.json", metrics)  # last: its presence marks a complete run
    track(cfg, out, metrics, trials, run_info)
    log.info("universe: %s", summary["verdict"])
    if "portfolio" in trading:
        log.info("portfolio: %s", trading["portfolio"]["verdict"])
    log.info("cross-section: %s", cross["verdict"])
    log.info("results in %s", out)
    return run_objective(metrics)


def write_distributions(out: Path, distributions: Distributions, close: pd.Series) -> dict:
    """distribution.csv, and its scores per horizon (recomputable from the file alone)."""
    from forecasting.distribution.scores import score_distributions

    table = distributions.table(close)
    write_csv(out / "distribution.csv", table, index=False, date_format="%Y-%m-%d", float_format=None)
    return score_distributions(table, model="lstm", labels=LABELS)


def write_universe_distributions(out: Path, distributions: Distributions,
                                 closes: pd.DataFrame) -> dict:
    """distribution.csv with a ticker column; each ticker's scores and the summary across them."""
    from forecasting.distribution.scores import score_distributions
    from forecasting.distribution.summary import summarise_tickers

    table = distributions.table(closes)
    write_csv(out / "distribution.csv", table, index=False, date_format="%Y-%m-%d", float_format=None)
    blocks = {t: score_distributions(part.drop(columns="ticker"), model="lstm", labels=LABELS)
              for t, part in table.groupby("ticker", sort=True)}
    summary = summarise_tickers(blocks)
    for block in summary.values():
        log.info("distributions: %s", block["verdict"])
    return {"summary": summary, "per_ticker": blocks}


LABELS = {"lstm": "the LSTM", "garch": "GARCH-t", "ewma": "EWMA", "historical": "historical",
          "climatology": "climatology"}


def ticker_scores(cfg: DictConfig, predictions: pd.DataFrame, loaded: Markets) -> dict:
    """The forecast block, computed once per forecasts and prices (SciPy is imported only then).

    Forecasts whose next-day return spans a gap in the data are not scored.
    """
    market = loaded.market
    scored = predictions.drop(index=market.unscored, errors="ignore")
    close = market.frame["Close"]

    def compute() -> dict:
        from forecasting.scoring import score_forecasts

        return score_forecasts(scored, close)

    return ArtifactCache(cfg.paths.cache_dir).value("forecast_scores", [scored, close], compute)


def not_computed(strategy: str) -> dict:
    """The forecast block of a run whose strategy reads no forecast: none was trained."""
    return {"computed": False, "per_fold": [],
            "verdict": f"Forecast not computed: {strategy} trades on prices only, so no model "
                       "was trained (the test period is the walk-forward's all the same)."}
