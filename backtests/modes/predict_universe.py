"""`mode=predict` for a universe: tomorrow's forecast for every member and, with a portfolio
strategy, the target weights and the orders that move today's holdings to them, each with its
reason (rank, buffer, stop, cap, breaker).

No second implementation: the chain's own stages (markets, forecasts, distributions, the risk
forecasts the rules size on, sentiment, the trade stage's portfolio engine) run over the whole
history, and the decision is the portfolio strategy's own state at the last close
(PortfolioStrategy.decision), so the answer is the position the backtest would take.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.atomic import write_json
from backtests.stages.chain import Settings
from backtests.stages.distribution import distribution_stage
from backtests.stages.forecasts import forecast_stage
from backtests.stages.journal import book_decision, entry_table, journal_book, members
from backtests.stages.markets import load_markets
from backtests.stages.risk import risk_stage
from backtests.stages.sentiment import sentiment_stage
from backtests.stages.trade import trade_stage

log = logging.getLogger(__name__)


def run_predict_universe(cfg: DictConfig) -> float:
    """Forecast every member's next session and print what the book does at the next open;
    returns the number of orders."""
    checked = Settings.check(cfg)
    loaded = load_markets(cfg)
    checked.check_markets(loaded)
    forecasts = forecast_stage(cfg, loaded, checked.reads_forecasts(loaded))
    distribution_stage(cfg, loaded, forecasts)  # cached beside the forecasts, as a backtest's
    rules = instantiate(cfg.get("risk"))
    sized = getattr(rules, "vol_source", "realised") == "forecast"  # the only risk the book reads
    risk = risk_stage(cfg, loaded, checked.risk if sized else None, forecasts)
    sentiment = sentiment_stage(cfg, loaded, forecasts)
    traded = trade_stage(cfg, loaded, forecasts, risk, sentiment)
    as_of = max(m.frame.index[-1] for m in loaded.markets.values())
    table = entry_table(loaded, forecasts)
    regime = sentiment is not None and sentiment.regime is not None
    rows, advice = book_decision(cfg, traded, regime)
    decision = traded.book.decision if traded is not None and traded.book is not None else {}
    exposures = {r["ticker"]: (r["held_weight"], r["target_weight"]) for r in rows}
    forecast = members(table, as_of, exposures)
    summary: dict[str, Any] = {
        "universe": loaded.label, "as_of_close": as_of.date(), "strategy": checked.strategy.__name__,
        "members": forecast, "orders": rows, "advice": advice,
        "equity": decision.get("equity"), "decided": decision.get("decided"),
        "forecasts": forecasts.how}
    live = journal_book(cfg, loaded, forecasts, traded, rows, advice, "predict")
    if live is not None:
        summary["live"] = {k: live[k] for k in ("since", "sessions", "verdict", "journal") if k in live}
    write_json(Path(cfg.paths.output_dir) / "forecast.json", summary)
    log.info("predict: %s after the close of %s: %d members forecast", loaded.label, as_of.date(),
             len(forecast))
    for member in forecast:
        if member["forecast"] is not None:
            log.info("predict: %s forecast %+.4f%% for the next session", member["ticker"],
                     100 * member["forecast"])
    log.info("predict: %s at the next open -> %s", checked.strategy.__name__, advice)
    for row in rows:
        log.info("predict: %s %s (weight %.1f%% -> %.1f%%, %d -> %d shares): %s", row["ticker"],
                 row["order"], 100 * row["held_weight"], 100 * row["target_weight"],
                 row["shares_now"], row["shares_after"], row["reason"])
    return float(sum(r["order"] != "hold" for r in rows))
