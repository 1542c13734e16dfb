"""A run is one chain of stages, for one ticker or a universe (qlib's record chain):

    load markets -> forecasts -> risk forecasts -> sentiment -> trade -> record

Each stage hands its record to the next (stages/markets.py, forecasts.py, risk.py, sentiment.py,
trade.py, record.py). A single ticker is a universe of one through the same stages; only the trade
stage chooses an engine (one ticker's, or the portfolio's), and the record stage writes what fits
the kind of run. The audit (stages/audit.py) replays the same stages on altered data.
With `workers` > 0 a process beside the run's own (outputs/background.py) fits a single run's
baselines while the network trains (stages/prefetch.py) and draws the figures and the tearsheet
during the record stage: the same functions on the same inputs, the same files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.outputs.background import Background
from backtests.outputs.results import stored_result
from backtests.pipeline.risk import risk_settings
from backtests.pipeline.universe import explains_universe
from backtests.settings.strategy import is_portfolio, strategy_class_and_params
from backtests.stages.distribution import distribution_settings, distribution_stage
from backtests.stages.forecasts import forecast_stage
from backtests.stages.markets import Markets, load_markets
from backtests.stages.portfolio import check_portfolio
from backtests.stages.prefetch import start_baselines
from backtests.stages.record import record_ticker, record_universe
from backtests.stages.risk import risk_stage
from backtests.stages.sentiment import sentiment_stage
from backtests.stages.timings import Timings
from backtests.stages.trade import trade_stage
from forecasting.risk.walkforward import RiskSettings


@dataclass
class Settings:
    """What is checked before any data is read: the strategy, and the risk methods (None: off)."""

    strategy: Any  # a backtrader strategy class
    params: dict[str, Any]
    risk: RiskSettings | None

    @classmethod
    def check(cls, cfg: DictConfig) -> Settings:
        strategy, params = strategy_class_and_params(cfg.strategy)
        instantiate(cfg.broker)          # costs and risk rules refuse bad values here, not after
        instantiate(cfg.get("risk"))     # the forecasts were trained
        distribution_settings(cfg)       # its baselines' names, before the data too
        return cls(strategy, params, risk_settings(cfg))

    def reads_forecasts(self, loaded: Markets) -> bool:
        """A universe always forecasts (its scores are the point); a ticker only for a strategy
        that reads them (the others get the walk-forward's test dates alone)."""
        return not loaded.single or bool(self.strategy.uses_forecast)

    def check_markets(self, loaded: Markets) -> None:
        """Enough tickers for a portfolio strategy, before any forecast is made."""
        if is_portfolio(self.strategy):
            check_portfolio(self.strategy, self.params, loaded.markets)


def explains(cfg: DictConfig, loaded: Markets) -> bool:
    """report.explain: null (the default) explains a single ticker's model, not a universe's
    (the cost, docs/attributions.md); true explains either, false neither."""
    return cfg.report.get("explain") is not False if loaded.single else explains_universe(cfg)


def draws(cfg: DictConfig) -> bool:
    """Whether the run draws figures or a tearsheet (the background worker's later work)."""
    return bool(cfg.report.plots) or bool(cfg.report.tearsheet)


def run_chain(cfg: DictConfig) -> float:
    """Run the configured experiment through every stage, write its folder, and return the
    objective sweeps optimise (a strategy's Sharpe ratio; a universe's mean daily IC without one)."""
    stored = stored_result(Path(cfg.paths.output_dir), cfg)  # a resumed sweep: already done
    if stored is not None:
        return stored
    timings = Timings()
    with timings.stage("check settings"):
        settings = Settings.check(cfg)
    with Background(int(cfg.workers)) as background:  # processes beside this one
        if draws(cfg):  # first: its start and imports overlap this process's loading and training
            background.warm()
        with timings.stage("load prices"):
            loaded = load_markets(cfg)
            settings.check_markets(loaded)
        reads = settings.reads_forecasts(loaded)
        early = start_baselines(cfg, loaded, settings.risk, reads, background)  # beside the network
        with timings.stage("forecasts"):
            forecasts = forecast_stage(cfg, loaded, reads, explain=explains(cfg, loaded))
        with timings.stage("distributions"):
            distributions = distribution_stage(cfg, loaded, forecasts, ready=early.distributions())
        with timings.stage("risk forecasts"):
            risk = risk_stage(cfg, loaded, settings.risk, forecasts, ready=early.risk())
        with timings.stage("sentiment"):
            sentiment = sentiment_stage(cfg, loaded, forecasts)
        with timings.stage("trade"):
            traded = trade_stage(cfg, loaded, forecasts, risk, sentiment)
        with timings.stage("record"):
            if loaded.single:
                assert traded is not None
                return record_ticker(cfg, loaded, forecasts, risk, traded, timings, distributions,
                                     background)
            return record_universe(cfg, loaded, forecasts, risk, sentiment, traded, timings,
                                   distributions, background)
