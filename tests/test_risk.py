"""Risk rules on hand-made paths through the real engine: each rule fires on the right bar at the
right price, stops are real orders (a gap fills at the open), and sizing hits its targets."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import BacktestResult, run_backtest
from strategies.buy_and_hold import BuyAndHold
from strategies.lstm_long_short import LSTMLongShort
from strategies.lstm_momentum import LSTMMomentum
from strategies.risk import TRADING_DAYS, RiskRules, realised_vol
from tests.builders import build
from tests.paths import FREE, ohlc

CONF = str(Path(__file__).resolve().parents[1] / "conf")
CALM = (10, 10.2, 9.8, 10)  # a quiet bar around 10: touches no stop or target below


def enter_once(rows: list[tuple[float, float, float, float]], rules: RiskRules,
               broker: BrokerSettings = FREE, first: int = 0) -> BacktestResult:
    """Go long at the open after close `first` and never sell on the signal: only rules exit."""
    signal = [np.nan] * len(rows)
    signal[first] = 0.01
    bars = ohlc(rows, signal)
    return run_backtest(bars, LSTMMomentum, {"entry": 0.0, "exit": -1.0}, broker,
                        bars.index[first], rules)


def only_trade(result: BacktestResult) -> pd.Series:
    assert len(result.trades) == 1, result.trades
    return result.trades.iloc[0]


def day(i: int) -> object:
    return pd.bdate_range("2021-01-04", periods=i + 1)[-1].date()


# -- stop loss --------------------------------------------------------------------------------
def test_stop_loss_fills_at_the_stop_on_the_bar_that_trades_through_it():
    rows = [CALM, (10, 10.3, 9.5, 10.1), (10.1, 10.2, 9.2, 9.4), (9.4, 9.5, 8.8, 9.0), CALM]
    trade = only_trade(enter_once(rows, build("risk/none", stop_loss=0.1)))
    assert (trade.entry_date, trade.entry_price, trade["size"]) == (day(1), 10, 100)
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(3), pytest.approx(9.0),
                                                                      "stop_loss")
    assert trade.pnl == pytest.approx(-100)


def test_a_gap_through_the_stop_fills_at_the_open():
    rows = [CALM, (10, 10.3, 9.5, 10.1), (10.1, 10.2, 9.2, 9.4), (8.7, 8.9, 8.5, 8.8), CALM]
    trade = only_trade(enter_once(rows, build("risk/none", stop_loss=0.1)))
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(3), 8.7, "stop_loss")


def test_the_stop_covers_the_entry_bar_itself():
    rows = [CALM, (10, 10.3, 8.9, 9.8), CALM, CALM]  # fills at the open 10, then trades at 8.9
    trade = only_trade(enter_once(rows, build("risk/none", stop_loss=0.1)))
    assert trade.entry_date == trade.exit_date == day(1)
    assert (trade.exit_price, trade.exit_reason) == (pytest.approx(9.0), "stop_loss")


def test_a_short_position_stops_above_its_entry():
    rows = [CALM, (10, 10.2, 9.9, 10), (10, 10.6, 9.9, 10.4), CALM]
    signal = [-0.01] + [np.nan] * 3
    bars = ohlc(rows, signal)
    result = run_backtest(bars, LSTMLongShort, {"threshold": 0.005}, FREE, bars.index[0],
                          build("risk/none", stop_loss=0.05))
    trade = only_trade(result)
    assert (trade.direction, trade.entry_price, trade["size"]) == ("short", 10, 100)
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(2), pytest.approx(10.5),
                                                                      "stop_loss")
    assert trade.pnl == pytest.approx(-50)


def test_the_stop_is_priced_off_the_fill_including_slippage():
    broker = build("broker/default", cash=1000, commission=0.0, slippage=0.01, invest_fraction=1.0)
    rows = [CALM, (10, 10.3, 9.5, 10.1), (10, 10.2, 8.5, 9.0), CALM]
    trade = only_trade(enter_once(rows, build("risk/none", stop_loss=0.1), broker))
    stop = 10 * 1.01 * 0.9  # 10% below the price really paid
    assert trade.entry_price == pytest.approx(10.1)
    assert trade.exit_price == pytest.approx(stop * 0.99)  # a stop becomes a market order: slips


# -- take profit ------------------------------------------------------------------------------
def test_take_profit_fills_at_its_limit_or_at_a_better_open():
    touch = [CALM, (10, 10.2, 9.9, 10.1), (10.1, 10.6, 10, 10.2), CALM]
    trade = only_trade(enter_once(touch, build("risk/none", take_profit=0.05)))
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(2), pytest.approx(10.5),
                                                                      "take_profit")
    gap = [CALM, (10, 10.2, 9.9, 10.1), (10.8, 10.9, 10.7, 10.8), CALM]
    trade = only_trade(enter_once(gap, build("risk/none", take_profit=0.05)))
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(2), 10.8, "take_profit")


def test_a_bar_touching_stop_and_target_is_counted_as_the_stop():
    rows = [CALM, (10, 10.2, 9.9, 10), (10, 10.6, 8.9, 10), CALM]  # order within the bar unknown
    trade = only_trade(enter_once(rows, build("risk/none", stop_loss=0.1, take_profit=0.05)))
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(2), pytest.approx(9.0),
                                                                      "stop_loss")


# -- trailing stop ----------------------------------------------------------------------------
def test_trailing_stop_ratchets_up_with_the_best_close_and_never_down():
    rows = [
        CALM,
        (10, 10.2, 9.9, 10),    # entry at 10: stop 9.0
        (10, 12.1, 10, 12),     # close 12: stop 10.8
        (12, 12.1, 10.9, 11),   # close 11 would put it at 9.9: it stays at 10.8; low 10.9 misses
        (11, 11.2, 10.85, 11.1),
        (11, 11.1, 10.7, 10.9),  # low 10.7 trades through 10.8
        CALM,
    ]
    trade = only_trade(enter_once(rows, build("risk/none", trailing_stop=0.1)))
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(5), pytest.approx(10.8),
                                                                      "trailing_stop")


def test_trailing_stop_of_a_short_ratchets_down():
    rows = [CALM, (10, 10.1, 9.9, 10), (10, 10, 7.9, 8), (8, 9.2, 8, 9), (9, 9.0, 8.5, 8.8)]
    bars = ohlc(rows, [-0.01] + [np.nan] * 4)
    result = run_backtest(bars, LSTMLongShort, {"threshold": 0.0}, FREE, bars.index[0],
                          build("risk/none", trailing_stop=0.1))
    trade = only_trade(result)  # stop 11 -> 8.8 after the close at 8; the high 9.2 hits it
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(3), pytest.approx(8.8),
                                                                      "trailing_stop")


# -- ATR stop and the tightest-stop rule --------------------------------------------------------
ATR_ROWS = [(10, 10.5, 9.5, 10)] * 4 + [(10, 15, 9, 14), (14, 14, 7.9, 8), CALM]


def test_atr_stop_uses_the_atr_at_the_decision_close():
    # True range 1 on every warm-up bar -> ATR 1 at close 3; the wide entry bar (range 6) is not in
    # it, or the stop would sit near 4.7 and the low 7.9 would not reach it.
    trade = only_trade(enter_once(ATR_ROWS, build("risk/none", atr_stop=2, atr_period=3), first=3))
    assert (trade.entry_date, trade.entry_price) == (day(4), 10)
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(5), pytest.approx(8.0),
                                                                      "atr_stop")


@pytest.mark.parametrize("stop_loss, price, reason", [(0.25, 8.0, "atr_stop"), (0.1, 9.0, "stop_loss")])
def test_the_tightest_stop_wins_and_names_the_exit(stop_loss, price, reason):
    rules = build("risk/none", stop_loss=stop_loss, atr_stop=2, atr_period=3)
    rows = ATR_ROWS[:4] + [(10, 15, 9.1, 14), (14, 14, 7.9, 8), CALM]
    trade = only_trade(enter_once(rows, rules, first=3))
    assert (trade.exit_price, trade.exit_reason) == (pytest.approx(price), reason)


# -- exits on the signal withdraw the stops ------------------------------------------------------
def test_a_signal_exit_cancels_the_stops():
    rows = [CALM, (10, 10.2, 9.9, 10), (10, 10.2, 9.9, 10), (8, 8, 7, 7.5), (7.5, 7.6, 7, 7)]
    bars = ohlc(rows, [0.01, -0.01, np.nan, np.nan, np.nan])
    result = run_backtest(bars, LSTMMomentum, {"entry": 0.0, "exit": 0.0}, FREE, bars.index[0],
                          build("risk/none", stop_loss=0.1, take_profit=0.5))
    trade = only_trade(result)  # no stop fill later, so no accidental short
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(2), 10, "signal")
    assert not result.in_market.iloc[-1] and result.equity.iloc[-1] == pytest.approx(1000)


def test_a_signal_exit_at_an_open_below_the_stop_is_the_stops_fill():
    rows = [CALM, (10, 10.2, 9.9, 10), (8.5, 8.6, 8.4, 8.5), CALM]
    bars = ohlc(rows, [0.01, -0.01, np.nan, np.nan])
    result = run_backtest(bars, LSTMMomentum, {"entry": 0.0, "exit": 0.0}, FREE, bars.index[0],
                          build("risk/none", stop_loss=0.1))
    trade = only_trade(result)
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (day(2), 8.5, "stop_loss")


# -- position sizing ----------------------------------------------------------------------------
def test_max_position_caps_the_fraction_of_equity():
    trade = only_trade(enter_once([CALM] * 4, build("risk/none", max_position=0.5)))
    assert trade["size"] == 50  # 0.5 * 1000 / 10


def test_vol_target_sizes_a_constant_volatility_path_to_the_target():
    step, n, lookback, target = 0.01, 70, 20, 0.10
    log_close = np.log(100) + step * (np.arange(n) % 2)  # +1%, -1%, +1%, ...: constant volatility
    closes = np.exp(log_close)
    opens = np.concatenate([[closes[0]], closes[:-1]])  # no gaps: all the moves are close to close
    rows = [(o, max(o, c), min(o, c), c) for o, c in zip(opens, closes)]
    broker = build("broker/default", cash=10_000_000, commission=0.0, slippage=0.0, invest_fraction=1.0)
    rules = build("risk/none", vol_target=target, vol_lookback=lookback)
    result = enter_once(rows, rules, broker, first=30)
    trade = only_trade(result)
    vol = step * math.sqrt(lookback / (lookback - 1)) * math.sqrt(TRADING_DAYS)  # ddof=1, mean 0
    assert realised_vol(closes[:31], lookback) == pytest.approx(vol)
    assert trade["size"] == math.floor(10_000_000 * target / vol / opens[31])
    held = result.returns.iloc[2:]  # closes after the entry bar
    assert held.std(ddof=1) * math.sqrt(TRADING_DAYS) == pytest.approx(target, rel=0.02)


def test_vol_target_uses_no_price_from_the_fill_bar():
    rows = [(10 * 1.01 ** (i % 2),) * 4 for i in range(30)]
    base = only_trade(enter_once(rows, build("risk/none", vol_target=0.1, vol_lookback=20), first=25))
    rows[26] = (rows[26][0], 30, rows[26][0], 30)  # the fill bar closes far away
    moved = only_trade(enter_once(rows, build("risk/none", vol_target=0.1, vol_lookback=20), first=25))
    assert base["size"] == moved["size"]


# -- drawdown breaker ----------------------------------------------------------------------------
def test_drawdown_breaker_flattens_and_sits_out_the_cooldown():
    closes = [10, 11, 12, 11, 10.7, 10.5, 10.4, 10.3, 10.2, 10.5, 10.6]
    opens = [10, 10, 11, 12, 11, 10.5, 10.5, 10.4, 10.3, 10.2, 10.5]
    rows = [(o, max(o, c), min(o, c), c) for o, c in zip(opens, closes)]
    bars = ohlc(rows)
    result = run_backtest(bars, BuyAndHold, {}, FREE, bars.index[0],
                          build("risk/none", max_drawdown=0.1, cooldown_days=3))
    first, second = result.trades.iloc[0], result.trades.iloc[1]
    # equity peaks at 1200 (close 2) and is 1070 <= 1080 at close 4: out at the open of 5
    assert (first.exit_date, first.exit_price, first.exit_reason) == (day(5), 10.5,
                                                                      "drawdown_breaker")
    assert result.in_market.iloc[5:8].tolist() == [False] * 3  # three bars out, though it wants in
    assert (second.entry_date, second.entry_price) == (day(8), pytest.approx(10.3))
    assert result.in_market.iloc[8]


def test_drawdown_breaker_is_not_tripped_by_a_smaller_fall():
    closes = [10, 11, 12, 11, 10.9, 11]
    rows = [(c, c, c, c) for c in closes]
    bars = ohlc(rows)
    result = run_backtest(bars, BuyAndHold, {}, FREE, bars.index[0], build("risk/none", max_drawdown=0.1))
    assert result.trades["exit_reason"].tolist() == ["end_of_data"]


# -- configuration -------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["none", "default", "conservative"])
def test_presets_compose_and_build(preset):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[f"risk={preset}", "strategy=sma_cross",
                                           "risk.stop_loss=0.03"])
    rules = instantiate(cfg.risk)
    assert isinstance(rules, RiskRules) and rules.stop_loss == 0.03


def test_risk_none_is_the_default_and_has_every_rule_off():
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config")
    assert instantiate(cfg.risk) == build("risk/none")


# -- stop audit: every stop exit at or beyond its level, nothing else ever crossed a live stop ----
STOP_RULES = ("stop_loss", "trailing_stop", "atr_stop")


def wilder_atr(bars: pd.DataFrame, period: int) -> np.ndarray:
    """ATR as Wilder defines it (a mean of the first `period` true ranges, then smoothing 1/period)."""
    prev = bars["Close"].shift(1)
    true_range = np.maximum(bars["High"], prev) - np.minimum(bars["Low"], prev)
    tr, atr = true_range.to_numpy(), np.full(len(bars), np.nan)
    atr[period] = tr[1: period + 1].mean()
    for i in range(period + 1, len(bars)):
        atr[i] = atr[i - 1] + (tr[i] - atr[i - 1]) / period
    return atr


def stop_audit(trades: pd.DataFrame, bars: pd.DataFrame, rules: RiskRules,
               slippage: float) -> dict[str, int]:
    """Rebuild each trade's stop bar by bar from its fill and the prices (independently of the
    engine) and count stop exits, bad stop fills, wrong rule names and trades that crossed a stop."""
    atr = wilder_atr(bars, rules.atr_period) if rules.atr_stop else None
    o, high, low, c = (bars[k].to_numpy() for k in ("Open", "High", "Low", "Close"))
    counts = {"stop_exits": 0, "gap_fills": 0, "bad_fills": 0, "wrong_rule": 0, "other_exits": 0,
              "crossed": 0}
    for t in trades.itertuples():
        d = 1 if t.direction == "long" else -1
        i0, i1 = (bars.index.get_loc(pd.Timestamp(x)) for x in (t.entry_date, t.exit_date))
        fixed = {}
        if rules.stop_loss:
            fixed["stop_loss"] = t.entry_price * (1 - d * rules.stop_loss)
        if rules.atr_stop:
            fixed["atr_stop"] = t.entry_price - d * rules.atr_stop * atr[i0 - 1]
        best = t.entry_price
        for i in range(i0, i1 + 1):
            levels = dict(fixed)
            if rules.trailing_stop:
                levels["trailing_stop"] = best * (1 - d * rules.trailing_stop)
            if not levels:
                break
            rule = max(levels, key=lambda r: d * levels[r])
            level = levels[rule]
            def crosses(price: float, d: int = d, level: float = level) -> bool:
                return d * (price - level) <= 0

            touched = crosses(low[i] if d > 0 else high[i])
            if i == i1 and t.exit_reason in STOP_RULES:
                counts["stop_exits"] += 1
                gap = crosses(o[i])
                counts["gap_fills"] += gap
                want = (o[i] if gap else level) * (1 - d * slippage)
                want = min(max(want, low[i]), high[i])
                bad = not math.isclose(t.exit_price, want, rel_tol=1e-9) or d * (t.exit_price - level) > 1e-9
                counts["bad_fills"] += bad or not touched
                counts["wrong_rule"] += not math.isclose(levels.get(t.exit_reason, np.nan), level)
            elif i == i1 and t.exit_reason in ("signal", "drawdown_breaker"):
                counts["other_exits"] += 1
                counts["crossed"] += crosses(o[i])  # a market exit at this open
            elif touched:
                counts["crossed"] += 1
                break
            best = max(best, c[i]) if d > 0 else min(best, c[i])
    return counts


def test_stop_audit_of_a_random_long_short_path_finds_nothing():
    rng = np.random.default_rng(2)
    n = 60
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    opens = np.concatenate([[100], close[:-1] * np.exp(rng.normal(0, 0.01, n - 1))])  # with gaps
    high = np.maximum(opens, close) * np.exp(np.abs(rng.normal(0, 0.01, n)))
    low = np.minimum(opens, close) * np.exp(-np.abs(rng.normal(0, 0.01, n)))
    bars = ohlc(list(zip(opens, high, low, close)), list(rng.normal(0, 0.01, n)))
    broker = build("broker/default", cash=10_000, commission=0.0, slippage=0.001, invest_fraction=1.0)
    rules = build("risk/none", stop_loss=0.04, trailing_stop=0.05, atr_stop=1.0, atr_period=3)
    result = run_backtest(bars, LSTMLongShort, {"threshold": 0.006}, broker, bars.index[6], rules)
    counts = stop_audit(result.trades, bars, rules, broker.slippage)
    assert set(STOP_RULES) <= set(result.trades["exit_reason"])  # every stop rule fires somewhere
    assert counts["gap_fills"] >= 1 and counts["other_exits"] >= 10, counts
    assert set(result.trades["direction"]) == {"long", "short"}
    assert counts["bad_fills"] == counts["wrong_rule"] == counts["crossed"] == 0, counts
