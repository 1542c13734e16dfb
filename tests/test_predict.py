"""Prediction mode: the next-session decision is the backtest's own, read at the last close."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from hydra.utils import instantiate

from backtests.modes.experiment import run_experiment
from backtests.modes.predict import ACTIONS, action_text, run_predict
from backtests.pipeline.engine import run_backtest
from backtests.settings.strategy import strategy_class_and_params

SHIPPED = {
    "lstm_momentum": ["strategy=lstm_momentum", "strategy.entry=0.0002", "strategy.exit=-0.0002",
                      "strategy.confirm_sma=20", "strategy.min_hold=3", "risk=default"],
    "lstm_long_short": ["strategy=lstm_long_short", "strategy.threshold=0.0001", "risk=conservative"],
    "sma_cross": ["strategy=sma_cross", "strategy.fast=5", "strategy.slow=20", "risk=default"],
    "buy_and_hold": ["strategy=buy_and_hold"],
}


def _position_after_next_open(cfg, predictions: pd.DataFrame, frame: pd.DataFrame) -> str:
    """Replay the backtest with one more (flat) session and read the position it then holds."""
    nxt = frame.index[-1] + pd.offsets.BDay(1)
    last = frame["Close"].iloc[-1]
    extra = pd.DataFrame({"Open": last, "High": last, "Low": last, "Close": last,
                          "Volume": frame["Volume"].iloc[-1]}, index=pd.DatetimeIndex([nxt]))
    bars = pd.concat([frame, extra])
    bars["signal"] = predictions["forecast"].reindex(bars.index)
    cls, params = strategy_class_and_params(cfg.strategy)
    result = run_backtest(bars, cls, params, instantiate(cfg.broker), predictions.index[0],
                          instantiate(cfg.risk))
    still_open = result.trades[result.trades["exit_reason"] == "end_of_data"]
    if still_open.empty:
        return "flat"
    assert pd.Timestamp(still_open["entry_date"].iloc[0]) <= nxt
    return str(still_open["direction"].iloc[0])


@pytest.mark.parametrize("name", list(SHIPPED))
def test_predict_says_what_the_backtest_does_at_the_next_open(make_cfg, tmp_path, name):
    cfg = make_cfg("forecaster=ridge", "data.bars=500", *SHIPPED[name])
    forecast = run_predict(cfg)
    said = json.loads((tmp_path / "run" / "forecast.json").read_text())
    run_experiment(cfg)  # the backtest on the same data: same forecasts (from the cache)
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv", index_col="date",
                              parse_dates=["date"])
    if strategy_class_and_params(cfg.strategy)[0].uses_forecast:  # prices-only: none in the backtest
        assert forecast == pytest.approx(predictions["forecast"].iloc[-1], rel=1e-12)
    assert said["as_of_close"] == str(predictions.index[-1].date())
    frame = instantiate(cfg.data).load().frame
    assert said["signal"] == _position_after_next_open(cfg, predictions, frame)
    if name == "buy_and_hold":
        assert said["signal"] == "long" and said["action"] in {"hold the long", "buy (open a long)"}
    assert said["advice"].startswith(said["action"])


def test_sma_cross_reads_its_moving_averages_not_the_forecast(make_cfg, tmp_path):
    cfg = make_cfg("forecaster=ridge", "data.bars=500", *SHIPPED["sma_cross"])
    run_predict(cfg)
    said = json.loads((tmp_path / "run" / "forecast.json").read_text())
    frame = instantiate(cfg.data).load().frame
    fast, slow = (frame["Close"].rolling(n).mean().iloc[-1] for n in (5, 20))
    assert f"SMA5 {fast:.2f} is {'above' if fast > slow else 'below'} SMA20 {slow:.2f}" in said["advice"]
    if said["action"] in {"hold the long", "stay flat"}:  # no cross today: the state decides
        assert (said["signal"] == "long") == (said["position"] == "long")


def test_every_decision_has_words():
    for (now, wanted), action in ACTIONS.items():
        decision = {"position": now, "target": wanted, "reason": "signal", "why": "because",
                    "stop": 95.0 if now else None, "stop_rule": "stop_loss" if now else None,
                    "take_profit": None, "breaker_blocked": False}
        text = action_text(decision, None)
        assert text.startswith(action) and "because" in text
        if now != 0 and wanted == now:
            assert "protective stop working at 95.00 (stop loss)" in text
    breaker = {"position": 1, "target": 0, "reason": "drawdown_breaker", "why": "",
               "stop": None, "stop_rule": None, "take_profit": None, "breaker_blocked": True}
    assert action_text(breaker, None).startswith("sell (close the long) (drawdown breaker)")


def test_a_last_bar_held_by_the_repair_is_said_with_the_files_close(make_cfg, tmp_path):
    """A far move on the last bar with ordinary volume is held at the previous close (the causal
    bad-tick rule cannot know yet): the decision rests on the held price, and predict says so."""
    from backtests.data.synthetic import synthetic_bars

    frame = synthetic_bars(500, seed=4).rename_axis("Date")
    frame.iloc[-1, :4] = frame.iloc[-1, :4] * 0.6  # OHLC: x0.6, no split ratio; volume as usual
    frame.to_csv(tmp_path / "DROP.csv")
    cfg = make_cfg("data=csv", f"data.path={tmp_path / 'DROP.csv'}", "data.start=null",
                   "data.quality.exchange=weekdays", "data.quality.max_age=null", "forecaster=ridge")
    run_predict(cfg)
    said = json.loads((tmp_path / "run" / "forecast.json").read_text())
    assert said["last_close"] == pytest.approx(frame["Close"].iloc[-2])  # the held price
    assert f"the file's close is {frame['Close'].iloc[-1]:.2f}" in said["warning"]
