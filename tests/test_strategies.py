"""Each strategy's buy and sell logic on hand-made paths through the real engine, and each strategy
config matching its class one to one."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from backtests.pipeline.engine import BacktestResult, run_backtest
from backtests.settings.strategy import strategy_class_and_params
from strategies.lstm_long_short import LSTMLongShort
from strategies.lstm_momentum import LSTMMomentum
from strategies.risk import RiskRules
from strategies.sma_cross import SmaCross
from tests.builders import build
from tests.paths import FREE, bars

ROOT = Path(__file__).resolve().parents[1]
NAN = np.nan


def path(opens: list[float], closes: list[float], signal: list[float] | None = None) -> pd.DataFrame:
    """Bars whose high/low just envelope the open and close."""
    return bars(opens, closes, spread=0.01, signal=signal)


def run(bars: pd.DataFrame, cls: type, params: dict, start: int = 0,
        risk: RiskRules | None = None) -> BacktestResult:
    return run_backtest(bars, cls, params, FREE, bars.index[start], risk)


def days(bars: pd.DataFrame, *positions: int) -> list:
    return [bars.index[i].date() for i in positions]


OPENS = [10.0 + i for i in range(10)]  # open i is 10 + i, so a fill price names its bar


# -- lstm_momentum -----------------------------------------------------------------------------
def test_momentum_hysteresis_holds_between_the_thresholds():
    signal = [0.02, 0.005, 0.005, -0.001, 0.005, 0.02, NAN, NAN, NAN, NAN]
    bars = path(OPENS, OPENS, signal)
    trades = run(bars, LSTMMomentum, {"entry": 0.01, "exit": 0.0}).trades
    # in at close 0 (> entry); 0.005 is below entry but above exit: hold; out at close 3 (< exit);
    # 0.005 at close 4 does not re-enter; 0.02 at close 5 does
    assert trades["entry_date"].tolist() == days(bars, 1, 6)
    assert trades["entry_price"].tolist() == [11, 16]
    assert trades["exit_date"].tolist() == days(bars, 4, 9)
    assert trades["exit_reason"].tolist() == ["signal", "end_of_data"]


def test_momentum_trend_confirmation_waits_for_the_close_above_its_mean():
    closes = [10, 10, 10, 9, 10.5, 10.5, 10.5, 10.5]
    bars = path(closes, closes, [0.02] * 8)
    plain = run(bars, LSTMMomentum, {"entry": 0.01, "exit": 0.0}, start=2).trades
    confirmed = run(bars, LSTMMomentum, {"entry": 0.01, "exit": 0.0, "confirm_sma": 3},
                    start=2).trades
    assert plain["entry_date"].tolist() == days(bars, 3)
    # close 2 = its 3-day mean, close 3 below it (9 < 9.67), close 4 above (10.5 > 9.83)
    assert confirmed["entry_date"].tolist() == days(bars, 5)


def test_momentum_min_hold_delays_the_signal_exit():
    signal = [0.02] + [-0.01] * 7
    bars = path(OPENS[:8], OPENS[:8], signal)
    quick = run(bars, LSTMMomentum, {"entry": 0.01, "exit": 0.0}).trades
    held = run(bars, LSTMMomentum, {"entry": 0.01, "exit": 0.0, "min_hold": 3}).trades
    assert quick["exit_date"].tolist()[0] == days(bars, 2)[0]
    assert held["exit_date"].tolist()[0] == days(bars, 4)[0]  # closes 1, 2, 3 held; out at open 4


def test_momentum_never_shorts():
    bars = path(OPENS[:6], OPENS[:6], [-0.05] * 6)
    result = run(bars, LSTMMomentum, {"entry": 0.0, "exit": 0.0})
    assert result.trades.empty and not result.in_market.any()


# -- lstm_long_short ---------------------------------------------------------------------------
def test_long_short_takes_both_sides_and_stays_flat_in_the_band():
    opens = [10, 10, 11, 12, 11, 10, 9]
    closes = [10, 10.5, 11.5, 11.5, 10.5, 9.5, 9]
    bars = path(opens, closes, [0.01, 0.01, -0.01, 0.0003, -0.01, NAN, NAN])
    trades = run(bars, LSTMLongShort, {"threshold": 0.0005}).trades
    assert trades["direction"].tolist() == ["long", "short", "short"]
    assert trades["entry_date"].tolist() == days(bars, 1, 3, 5)
    assert trades["exit_date"].tolist() == days(bars, 3, 4, 6)
    long_size = 100  # 1000 / open 10
    short_size = (1000 + long_size * (12 - 10)) // 12  # equity marked at open 3, over open 3
    assert trades["size"].tolist()[:2] == [long_size, short_size]
    assert trades["pnl"].tolist()[:2] == pytest.approx([long_size * 2, short_size * (12 - 11)])


# -- sma_cross ---------------------------------------------------------------------------------
CROSS_CLOSES = [10, 10, 10, 9, 8, 9, 10, 11, 12, 11, 10, 9, 8, 8]


def test_sma_cross_buys_the_upward_cross_and_sells_the_downward_one():
    bars = path(CROSS_CLOSES, CROSS_CLOSES)
    trades = run(bars, SmaCross, {"fast": 2, "slow": 3}, start=5).trades
    # fast - slow: -0.17 at close 5, +0.5 at close 6 (up), +0.17 at 9, -0.5 at close 10 (down)
    assert trades["entry_date"].tolist() == days(bars, 7)
    assert trades["exit_date"].tolist() == days(bars, 11)
    assert (trades["entry_price"].tolist(), trades["exit_price"].tolist()) == ([11], [9])


def test_sma_cross_waits_for_a_fresh_cross_after_a_stop():
    closes = CROSS_CLOSES[:8] + [10, 12, 13, 14, 15, 16]
    opens = list(closes)
    bars = path(opens, closes)
    bars.iloc[8, bars.columns.get_loc("Low")] = 9.5  # 11 * 0.9 = 9.9: stopped out on bar 8
    trades = run(bars, SmaCross, {"fast": 2, "slow": 3}, start=5,
                 risk=build("risk/none", stop_loss=0.1)).trades
    assert trades["exit_reason"].tolist() == ["stop_loss"]  # still above: no re-entry


# -- configs and imports -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["lstm_momentum", "lstm_long_short", "lstm_probability", "sma_cross",
                                  "buy_and_hold"])
def test_config_matches_the_class_params_one_to_one(name):
    section = OmegaConf.load(ROOT / "conf" / "strategy" / f"{name}.yaml")
    cls, params = strategy_class_and_params(section)
    assert set(params) == set(cls.params._getkeys()) - {"start", "risk"}


def test_strategies_import_no_tensorflow_and_nothing_from_forecasting():
    code = ("import sys, strategies.base, strategies.lstm_momentum, strategies.lstm_long_short, "
            "strategies.lstm_probability, strategies.sma_cross, strategies.buy_and_hold, "
            "strategies.sizers, strategies.broker, strategies.portfolio.topk, "
            "strategies.portfolio.market_neutral; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', "
            "'forecasting', 'backtests')]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
