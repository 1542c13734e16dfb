"""`mode=predict`: what the configured strategy does at the next open, and why.

The answer comes from the code the backtest trades, not from a second implementation: the same
walk-forward forecasts (reused from the forecast cache while the data are unchanged), the same
strategy class with the same parameters and risk rules, run over the whole history through the
same engine. The decision is read at the last close, where the strategy's own state (position, its
stop levels, bars held, a tripped drawdown breaker) is exactly what the backtest had. The forecast
for the next session is the walk-forward's forecast made at the last close, by the fold model that
covers it, so it is the last row of a backtest's predictions.csv on the same data. It runs the
chain's own stages (stages/: markets, forecasts, distribution, risk, the trade stage's bars), so
with forecaster=lstm_dist the distributions and VaR/ES it prints are the last rows of a backtest's
distribution.csv and var.csv.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.atomic import write_json
from backtests.data.universe import is_universe_run
from backtests.modes.predict_universe import run_predict_universe
from backtests.outputs.advice import ACTIONS, SIDES, action_text
from backtests.pipeline.engine import run_backtest
from backtests.stages.chain import Settings
from backtests.stages.distribution import Distributions, distribution_stage
from backtests.stages.forecasts import forecast_stage
from backtests.stages.journal import journal_ticker
from backtests.stages.markets import load_markets
from backtests.stages.risk import RiskForecasts, risk_stage
from backtests.stages.trade import ticker_bars
from forecasting.distribution.walkforward import MODEL
from forecasting.risk.distributions import column

log = logging.getLogger(__name__)

def run_predict(cfg: DictConfig) -> float:
    """Forecast the next session and print what the strategy does at the next open."""
    if is_universe_run(cfg):  # every member's forecast, the book's targets and orders
        return run_predict_universe(cfg)
    checked = Settings.check(cfg)  # the chain's checks, before any data is read
    strategy_cls, params, settings = checked.strategy, checked.params, checked.risk
    broker = instantiate(cfg.broker)
    risk = instantiate(cfg.get("risk"))
    loaded = load_markets(cfg)  # the backtest's own stages, so its cache entries are reused
    market = loaded.market
    forecasts = forecast_stage(cfg, loaded)
    run = forecasts.run
    assert run is not None
    predictions = run.predictions
    distributions = distribution_stage(cfg, loaded, forecasts)  # None: a point forecaster
    sizes_on_forecast = getattr(risk, "vol_source", "realised") == "forecast"
    risk_run = (risk_stage(cfg, loaded, settings, forecasts)
                if settings is not None and (sizes_on_forecast or distributions is not None)
                else RiskForecasts())
    bars = ticker_bars(cfg, loaded, forecasts, risk_run, risk)  # the backtest's own bars
    result = run_backtest(bars, strategy_cls, params, broker, predictions.index[0], risk)
    decision = result.decision
    as_of = market.frame.index[-1]
    forecast = float(predictions["forecast"].iloc[-1])
    close = float(market.frame["Close"].iloc[-1])
    advice = action_text(decision, risk)
    summary = {
        "ticker": market.ticker, "as_of_close": as_of.date(), "strategy": strategy_cls.__name__,
        "forecast_log_return": forecast, "last_close": close,
        "implied_next_close": close * math.exp(forecast),
        "position": SIDES[decision["position"]], "signal": SIDES[decision["target"]],
        "action": ACTIONS[(decision["position"], decision["target"])], "advice": advice,
        "decision": decision, "forecasts_from_cache": run.cached, "forecast_cache_key": run.key,
    }
    held = market.quality.held.get(as_of) if market.quality is not None else None
    if held is not None:  # the decision rests on a price the repair put in the file's place
        summary["warning"] = (
            f"the last bar ({as_of.date()}) was held at the previous close {close:.2f} by the "
            f"bad-tick repair (a far move on ordinary volume); the file's close is {held:.2f}. The "
            "forecast and the decision above read the held price: if the move is real, rerun with "
            "data.quality.bad_ticks=warn")
        log.warning("predict: %s", summary["warning"])
    if distributions is not None:
        summary["distribution"] = next_distribution(distributions, market.frame["Close"], as_of)
        if risk_run.on:
            summary["risk"] = next_risk(risk_run, market.ticker, as_of)
    live = journal_ticker(cfg, loaded, forecasts, result, "predict")  # before the outcome exists
    if live is not None:
        summary["live"] = {k: live[k] for k in ("since", "sessions", "verdict", "journal") if k in live}
    write_json(Path(cfg.paths.output_dir) / "forecast.json", summary)
    log.info("predict: %s after the close of %s: forecast %+.4f%% for the next session (implied "
             "close %.2f%s)", market.ticker, as_of.date(), 100 * forecast,
             summary["implied_next_close"],
             "" if strategy_cls.uses_forecast else f"; {strategy_cls.__name__} does not read it")
    log.info("predict: %s at the next open -> %s: %s", strategy_cls.__name__,
             summary["signal"].upper(), advice)
    for line in distribution_lines(summary.get("distribution") or [], summary.get("risk") or {}):
        log.info("predict: %s", line)
    return forecast


def next_distribution(distributions: Distributions, close: pd.Series, as_of: pd.Timestamp
                      ) -> list[dict[str, Any]]:
    """The network's distributions made at the close `as_of`, a row per horizon (the rows of
    distribution.csv a backtest on the same data writes for that date)."""
    table = distributions.table(close)
    rows = table[(table["method"] == MODEL) & (table["date"] == as_of)].sort_values("horizon")
    keep = ["horizon", "mean", "scale", "df", *(c for c in rows.columns if c.startswith("q")),
            "p_up", "p_up_climatology"]
    return [{k: (int(v) if k == "horizon" else float(v)) for k, v in row.items()}
            for row in rows[keep].to_dict("records")]


def next_risk(risk: RiskForecasts, ticker: str, as_of: pd.Timestamp) -> dict[str, dict[str, float]]:
    """Each risk method's next-day VaR and ES (positive losses of the log return) made at `as_of`."""
    assert risk.settings is not None
    frame = risk.frame(ticker)
    assert frame is not None
    measures = [column(kind, level) for level in risk.settings.levels for kind in ("var", "es")]
    last = frame[frame.index == as_of]
    return {str(row["method"]): {m: float(row[m]) for m in measures}
            for _, row in last.iterrows()}


def distribution_lines(rows: list[dict[str, Any]], risk: dict[str, dict[str, float]]) -> list[str]:
    """Tomorrow's distribution per horizon in words, then the 1-day VaR/ES per risk level."""
    lines = []
    for row in rows:
        h = row["horizon"]
        lines.append(f"{h}-session log return from this close: mean {100 * row['mean']:+.2f}%, 90% "
                     f"interval {100 * row['q05']:+.2f}% to {100 * row['q95']:+.2f}% (median "
                     f"{100 * row['q50']:+.2f}%), P(up) {100 * row['p_up']:.1f}% (climatology "
                     f"{100 * row['p_up_climatology']:.1f}%)")
    levels = sorted({key[4:] for by in risk.values() for key in by if key.startswith("var_")},
                    key=int)
    for level in levels:
        said = ", ".join(f"{method} {100 * by[f'var_{level}']:.2f}% / {100 * by[f'es_{level}']:.2f}%"
                         for method, by in risk.items())
        lines.append(f"1-day VaR / ES at {level}% (losses of the log return): {said}")
    return lines
