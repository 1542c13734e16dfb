"""One experiment, end to end: prices -> forecasts -> signal -> backtests -> results folder."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_csv, write_json
from backtests.data.base import MarketData
from backtests.data.universe import is_universe_run
from backtests.ledger.record import record_run
from backtests.outputs.artifact_cache import ArtifactCache
from backtests.outputs.explanations import write_explanation
from backtests.outputs.figures.risk import write_risk_plot
from backtests.outputs.html import forecaster_label, plural
from backtests.outputs.plots import write_forecast_plot, write_skill_plot
from backtests.outputs.report import write_report
from backtests.outputs.results import (
    git_commit,
    package_versions,
    prediction_table,
    returns_table,
    stored_result,
    write_run_files,
)
from backtests.outputs.tearsheet import write_tearsheet
from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import BacktestResult, run_backtest, signal_bars
from backtests.pipeline.forecasts import scheduled_outcomes, walk_forward_forecasts
from backtests.pipeline.metrics import performance, sharpe_objective, trade_stats
from backtests.pipeline.risk import risk_results, risk_settings, walk_forward_risk
from backtests.runcontext import group_choice, sweep_name
from backtests.settings.strategy import strategy_class_and_params
from backtests.stages.timings import Timings
from strategies.buy_and_hold import BuyAndHold

log = logging.getLogger(__name__)


def run_experiment(cfg: DictConfig) -> float:
    """Run the configured experiment, write its folder, and return the strategy's Sharpe ratio."""
    if is_universe_run(cfg):  # many tickers: forecasts scored across tickers, no portfolio trades
        from backtests.stages.universe import run_universe

        return run_universe(cfg)
    timings = Timings()
    out = Path(cfg.paths.output_dir)
    stored = stored_result(out, cfg)  # a resumed sweep: this folder already holds these results
    if stored is not None:
        return stored
    with timings.stage("check settings"):
        strategy_cls, strategy_params = strategy_class_and_params(cfg.strategy)
        broker: BrokerSettings = instantiate(cfg.broker)
        risk = instantiate(cfg.get("risk"))  # strategies.risk.RiskRules, or None without the group
        source = instantiate(cfg.data)
        risk_methods = risk_settings(cfg)  # None: risk_model.enabled=false
    with timings.stage("load prices"):
        market = source.load()
        log.info("prices: %s %d bars %s to %s (%s)", market.ticker, len(market.frame),
                 market.frame.index[0].date(), market.frame.index[-1].date(), market.source)
    uses_forecast = bool(strategy_cls.uses_forecast)
    with timings.stage("walk-forward forecasts"):  # a prices-only strategy: its test dates only
        run = (walk_forward_forecasts(cfg, market, explain=cfg.report.get("explain") is not False)
               if uses_forecast else scheduled_outcomes(cfg, market))
    predictions = run.predictions
    with timings.stage("risk forecasts"):
        risk_run = walk_forward_risk(cfg, market, risk_methods) if risk_methods else None
    start = predictions.index[0]
    bars = signal_bars(market.frame, predictions["forecast"], risk,
                       None if risk_run is None else risk_run.frame)
    with timings.stage("backtest"):
        result = run_backtest(bars, strategy_cls, strategy_params, broker, start, risk)
        bench = run_backtest(bars, BuyAndHold, {}, broker, start, risk=None)  # no risk rules
    with timings.stage("write results"):
        metrics = {
            "strategy": {**_figures(result, cfg), "uses_forecast": uses_forecast},
            "benchmark": _figures(bench, cfg),
            "forecast": (_scores(cfg, predictions, market) if uses_forecast
                         else not_computed(strategy_cls.__name__)),
            "data": market.summary(),
            "test_period": {"start": start.date().isoformat(),
                            "end": predictions.index[-1].date().isoformat(),
                            "days": int(len(result.returns))},
        }
        metrics["strategy"]["excess_total_return"] = (metrics["strategy"]["total_return"]
                                                      - metrics["benchmark"]["total_return"])
        table = prediction_table(predictions, market.frame["Close"])
        if risk_run is not None:  # var.csv, var_backtests.csv and the `risk` block
            var, var_backtests, metrics["risk"] = risk_results(risk_run, market.ticker)
            write_csv(out / "var.csv", var, index=False, date_format="%Y-%m-%d")
            write_csv(out / "var_backtests.csv", var_backtests, index=False, float_format=None)
        returns = returns_table(result.returns, bench.returns)
        commit = git_commit(Path(__file__).parent)
        # Before report.html, so the page shows how many trials this data and period have seen.
        # Not in metrics.json: its figures depend on the ledger's history, and a rerun of the same
        # settings must write a byte-identical metrics.json.
        trials = record_run(cfg, market.fingerprint, market.ticker, returns,
                            metrics["strategy"]["sharpe"],
                            group_choice("strategy") or strategy_cls.__name__, out, commit)
        run_info = {
            "command": {"ticker": market.ticker, "strategy": group_choice("strategy"),
                        "mode": "backtest"},
            "sweep": sweep_name(),
            "config": OmegaConf.to_container(cfg, resolve=True),
            "data_fingerprint": market.fingerprint,
            "forecast_cache_key": run.key if uses_forecast else None,
            "forecasts_from_cache": run.cached,
            "risk_cache_key": risk_run and risk_run.key,
            "risk_forecasts_from_cache": risk_run is not None and risk_run.cached,
            "packages": package_versions(), "git_commit": commit,
            "timings_s": timings,
        }
        title = (f"{market.ticker} · {group_choice('strategy') or strategy_cls.__name__} · "
                 f"{start.date()} to {predictions.index[-1].date()}")
        cache = ArtifactCache(cfg.paths.cache_dir)  # a rerun copies what it drew before
        model = forecaster_label(run_info["config"]["forecaster"])
        if cfg.report.plots and uses_forecast:  # both plots are of the forecast
            equity = pd.DataFrame({"strategy": result.equity, "buy & hold": bench.equity})
            folds = metrics["forecast"]["per_fold"]
            cache.file(out / "forecast.png", [table, equity, title, model],
                       lambda path: write_forecast_plot(path, table, equity, title, model))
            cache.file(out / "forecast_skill.png", [predictions, folds, model],
                       lambda path: write_skill_plot(path, predictions, folds, model))
        if run.explanation is not None:
            write_explanation(out, run.explanation, model, bool(cfg.report.plots))
        if cfg.report.plots and risk_run is not None:
            cache.file(out / "risk.png", [var, title],
                       lambda path: write_risk_plot(path, var, title))
        if cfg.report.tearsheet:
            year = int(cfg.report.periods_per_year)
            shown = (metrics["strategy"]["time_in_market"], metrics["benchmark"]["time_in_market"])
            cache.file(out / "tearsheet.html", [result.returns, bench.returns, title, year, shown],
                       lambda path: write_tearsheet(path, result.returns, bench.returns, title, year,
                                                    time_in_market=shown))
        write_report(out / "report.html", {**metrics, "trials": trials}, run_info, result.trades)
        if trials is not None:
            write_json(out / "trials.json", trials)  # before metrics.json, which marks completion
        write_run_files(out, metrics, returns, table, result.trades, run_info)
    if cfg.get("logger") is not None:  # an experiment tracker (logger=mlflow), after the files
        instantiate(cfg.logger).log_run(out, {**metrics, "trials": trials}, run_info)
    _summarise(metrics, out)
    return sharpe_objective(metrics)  # NaN (no trades) becomes 0.0, which sweepers accept


def _scores(cfg: DictConfig, predictions: pd.DataFrame, market: MarketData) -> dict:
    """The forecast block, computed once per forecasts and prices (SciPy is imported only then).

    Forecasts whose next-day return spans a gap in the data are not scored.
    """
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


def _figures(result: BacktestResult, cfg: DictConfig) -> dict:
    return {**performance(result.returns, int(cfg.report.periods_per_year)),
            **trade_stats(result.trades, result.in_market, result.equity,
                          int(cfg.report.periods_per_year))}


def _summarise(metrics: dict, out: Path) -> None:
    s, b, f = metrics["strategy"], metrics["benchmark"], metrics["forecast"]
    log.info("strategy: total %+.1f%%, Sharpe %.2f, max drawdown %.1f%%, %s | buy & hold: "
             "total %+.1f%%, Sharpe %.2f, max drawdown %.1f%%", 100 * s["total_return"],
             s["sharpe"], 100 * s["max_drawdown"], plural(s["trades"], "trade"),
             100 * b["total_return"], b["sharpe"], 100 * b["max_drawdown"])
    log.info("forecast: %s", f["verdict"])
    log.info("results in %s", out)
