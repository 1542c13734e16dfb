"""mode=predict for a universe: every member's forecast, the book's targets and the orders that
move today's holdings to them, each with a reason; the answer is the backtest's own next position."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from hydra.utils import instantiate

from backtests.modes.predict import run_predict
from backtests.pipeline.portfolio import run_portfolio
from backtests.settings.strategy import strategy_class_and_params
from backtests.stages.forecasts import forecast_stage
from backtests.stages.markets import load_markets
from backtests.stages.portfolio import portfolio_inputs
from backtests.stages.sentiment import sentiment_stage
from tests.test_universe import CSV, write_market

BOOKS = {
    "topk, a rebalance every close, stops": ["strategy=topk", "strategy.k=2", "strategy.rebalance=1",
                                              "risk=default", "risk.max_weight=0.3"],
    "topk with the n_drop buffer": ["strategy=topk", "strategy.k=2", "strategy.n_drop=1",
                                    "strategy.rebalance=1"],
    "market neutral, a weekly rebalance": ["strategy=market_neutral", "strategy.k=1",
                                           "strategy.rebalance=5"],
}


def _shares_after_the_next_open(cfg) -> dict[str, int]:
    """Replay the backtest's book with one more (flat) session and read the shares it then holds."""
    loaded = load_markets(cfg)
    forecasts = forecast_stage(cfg, loaded)  # from the cache predict filled
    sentiment = sentiment_stage(cfg, loaded, forecasts)
    bars, start, rules = portfolio_inputs(cfg, loaded.markets, forecasts.long, None, forecasts.frames)
    longer = {}
    for ticker, frame in bars.items():
        last = frame.iloc[-1]
        extra = pd.DataFrame({c: [last["Close"]] for c in ("Open", "High", "Low", "Close")}
                             | {"Volume": [last["Volume"]]},
                             index=pd.DatetimeIndex([frame.index[-1] + pd.offsets.BDay(1)]))
        longer[ticker] = pd.concat([frame, extra])
    cls, params = strategy_class_and_params(cfg.strategy)
    regime = sentiment.regime if sentiment is not None else None
    result = run_portfolio(longer, cls, {**params, "regime": regime}, instantiate(cfg.broker), start,
                           rules)
    nxt = next(iter(longer.values())).index[-1]
    equity = result.equity.loc[nxt]
    return {t: round(result.holdings.loc[nxt, t] * equity / longer[t]["Close"].iloc[-1])
            for t in longer}


@pytest.mark.parametrize("book", list(BOOKS))
def test_universe_predict_says_what_the_book_does_at_the_next_open(make_cfg, tmp_path, book):
    folder = write_market(tmp_path / "prices")
    cfg = make_cfg(*CSV, f"data.path={folder}", "universe=folder", "forecaster=ridge",
                   "universe.n_jobs=1", "report.plots=false", *BOOKS[book])
    run_predict(cfg)
    said = json.loads((tmp_path / "run" / "forecast.json").read_text())
    assert sorted(m["ticker"] for m in said["members"]) == ["AAA", "BBB", "CCC", "DDD"]
    assert all(m["forecast"] is not None for m in said["members"])
    after = {row["ticker"]: row["shares_after"] for row in said["orders"]}
    replayed = _shares_after_the_next_open(cfg)
    assert {t: after.get(t, 0) for t in replayed} == replayed
    for row in said["orders"]:
        assert row["reason"]
        assert row["order"] == ("hold" if row["shares_after"] == row["shares_now"] else
                                f"{'buy' if row['shares_after'] > row['shares_now'] else 'sell'} "
                                f"{abs(row['shares_after'] - row['shares_now'])}")
    if said["decided"]:
        assert any(r["reason"].startswith(("rank", "buffer")) for r in said["orders"])
    # The forecasts are the last rows of a backtest's predictions.csv on the same data.
    loaded = load_markets(cfg)
    long = forecast_stage(cfg, loaded).long
    last = long[long["date"] == long["date"].max()].set_index("ticker")["forecast"]
    assert {m["ticker"]: m["forecast"] for m in said["members"]} == pytest.approx(last.to_dict())


def _decision(**changes):
    base = {"date": None, "decided": True, "reason": "rebalance", "equity": 1000.0,
            "held": {"AAA": 0.5}, "shares": {"AAA": 5}, "closes": {"AAA": 100.0, "BBB": 50.0},
            "orders": {"AAA": {"weight": 0.3, "shares_now": 5, "shares_after": 3},
                       "BBB": {"weight": 0.3, "shares_now": 0, "shares_after": 6}},
            "rebalanced": "2020-01-10", "scores": {"AAA": 0.1, "BBB": 0.3, "CCC": 0.2, "DDD": -0.1},
            "raw": {"AAA": 0.5, "BBB": 0.5}, "held_at_rebalance": {"AAA": 0.5},
            "targets": {"AAA": 0.3, "BBB": 0.3}, "sessions_to_rebalance": 5,
            "stops": {"AAA": {"stop_loss": 90.0}}, "breaker_blocked": False}
    return {**base, **changes}


def test_every_order_says_its_reason():
    from backtests.outputs.book_advice import book_advice, book_orders
    from backtests.settings.defaults import shipped
    from strategies.risk import RiskRules

    rules = RiskRules(**shipped("risk", "none", max_weight=0.3))
    empty = pd.DataFrame(columns=["ticker", "exit_date", "exit_reason"])
    rows = {r["ticker"]: r for r in book_orders(_decision(), {"k": 1, "n_drop": 1}, rules, False, empty)}
    assert rows["AAA"]["reason"].startswith("buffer: rank 3 of 4, outside the top 1 but kept")
    assert "cap: 50.0% cut to 30.0% by max_weight=0.3" in rows["AAA"]["reason"]
    assert "stop working at 90.00 (stop loss)" in rows["AAA"]["reason"]
    assert rows["AAA"]["order"] == "sell 2" and rows["BBB"]["order"] == "buy 6"
    assert rows["BBB"]["reason"].startswith("rank 1 of 4 (top 1)")
    assert rows["CCC"]["reason"] == "rank 2 of 4: not selected" and rows["CCC"]["order"] == "hold"
    # Between rebalances: a name a stop closed stays out, and the book says when it rebalances.
    stopped = pd.DataFrame({"ticker": ["BBB"], "exit_date": ["2020-01-13"],
                            "exit_reason": ["trailing_stop"]})
    quiet = _decision(decided=False, reason=None, orders={}, sessions_to_rebalance=3)
    rows = {r["ticker"]: r for r in book_orders(quiet, {"k": 1}, rules, False, stopped)}
    assert rows["BBB"]["reason"] == ("no rebalance at this close (the next in 3 sessions): the "
                                     "position drifts; stop: closed by trailing_stop on 2020-01-13; "
                                     "stays out until the next rebalance")
    assert book_advice(quiet, list(rows.values())).startswith(
        "no rebalance at this close (the next in 3 sessions): no orders; holding AAA")
    breaker = _decision(reason="drawdown_breaker", orders={"AAA": {"weight": 0.0, "shares_now": 5,
                                                                   "shares_after": 0}})
    [row] = [r for r in book_orders(breaker, {"k": 1}, rules, False, empty) if r["ticker"] == "AAA"]
    assert row["reason"].startswith("breaker: the drawdown breaker flattens the book")
    assert row["order"] == "sell 5"


def test_two_evenings_of_a_universe_journal_its_book(make_cfg, tmp_path):
    from backtests.data.synthetic import synthetic_bars
    from tests.test_universe import TICKERS

    full = {t: synthetic_bars(421, seed=100 + n).rename_axis("Date") for n, t in enumerate(TICKERS)}
    folder = tmp_path / "prices"
    folder.mkdir()
    for evening in range(2):
        for ticker, frame in full.items():
            frame.iloc[:420 + evening].to_csv(folder / f"{ticker}.csv")
        cfg = make_cfg(*CSV, f"data.path={folder}", "universe=folder", "forecaster=ridge",
                       "universe.n_jobs=1", *BOOKS["topk, a rebalance every close, stops"])
        cfg.paths.output_dir = str(tmp_path / f"evening-{evening}")
        run_predict(cfg)
    [entries] = list((tmp_path / "results" / "journal").rglob("entries.jsonl"))
    made = [json.loads(line) for line in entries.read_text().splitlines()]
    said = json.loads((tmp_path / "evening-0" / "forecast.json").read_text())
    assert [e["as_of"] for e in made] == [str(full["AAA"].index[i].date()) for i in (419, 420)]
    assert made[0]["decision"] == said["advice"]
    weights = {m["ticker"]: m["target"] for m in made[0]["members"]}
    assert weights == {r["ticker"]: r["target_weight"] for r in said["orders"]} | {
        t: 0.0 for t in weights if t not in {r["ticker"] for r in said["orders"]}}
    live = json.loads((tmp_path / "evening-1" / "live.json").read_text())
    assert live["sessions"] == 1 and live["forecast"]["n"] == len(TICKERS)
