"""Fills on a hand-made path: a signal known at the close of t trades at the open of t+1."""
from __future__ import annotations

import numpy as np
import pytest

from backtests.pipeline.engine import run_backtest
from strategies.buy_and_hold import BuyAndHold
from strategies.lstm_momentum import LSTMMomentum
from tests.builders import build
from tests.paths import FREE, bars

OPENS = [10, 11, 12, 13, 14, 15, 16, 17]
CLOSES = [10.2, 11.2, 12.2, 13.2, 14.2, 15.2, 16.2, 17.2]
SIGNAL = [np.nan, 0.01, 0.01, -0.01, 0.01, -0.01, np.nan, 0.01]


def test_momentum_enters_and_exits_at_the_next_open():
    path = bars(OPENS, CLOSES, signal=SIGNAL)
    result = run_backtest(path, LSTMMomentum, {"entry": 0.0, "exit": 0.0}, FREE, path.index[1])
    trades = result.trades
    assert trades["entry_price"].tolist() == [12, 15]  # signals at closes 1 and 4 -> opens 2 and 5
    assert trades["exit_price"].tolist() == [14, 16]   # exit signals at closes 3 and 5 -> opens 4, 6
    assert trades["size"].tolist() == [83, 77]         # floor(1000 / 12), floor(1166 / 15)
    assert trades["pnl"].tolist() == pytest.approx([166, 77])
    assert trades["entry_date"].tolist() == [path.index[2].date(), path.index[5].date()]
    assert set(trades["exit_reason"]) == {"signal"}
    assert result.equity.iloc[-1] == pytest.approx(1000 + 166 + 77)
    assert result.returns.index[0] == path.index[1] and result.returns.iloc[0] == 0


def test_nothing_trades_before_start():
    path = bars(OPENS, CLOSES, signal=[0.01] * 8)
    result = run_backtest(path, LSTMMomentum, {"entry": 0.0, "exit": 0.0}, FREE, path.index[4])
    assert result.trades["entry_date"].tolist() == [path.index[5].date()]


def test_buy_and_hold_follows_the_price_path_and_pays_costs():
    closes = [10, 10.5, 11, 10.8, 11.5, 12]
    path = bars([10, 10.2, 10.6, 11, 10.9, 11.6], closes, spread=0.3, signal=[0.0] * 6)
    costs = build("broker/default", cash=10_000, commission=0.001, slippage=0.001, invest_fraction=1.0)
    result = run_backtest(path, BuyAndHold, {}, costs, path.index[0])
    fill = 10.2 * 1.001  # the first open after the first close, plus slippage
    size = np.floor(10_000 / (fill * 1.001))
    commission = size * fill * 0.001
    assert result.trades["entry_price"].iloc[0] == pytest.approx(fill)
    assert result.trades["size"].iloc[0] == size
    expected_equity = 10_000 - size * fill - commission + size * np.array(closes[1:])
    assert result.equity.iloc[1:].to_numpy() == pytest.approx(expected_equity)
    assert result.trades["exit_reason"].iloc[0] == "end_of_data"
