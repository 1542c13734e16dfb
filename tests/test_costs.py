"""Commission and slippage change P&L by exactly the amount computed by hand, fills stay inside the
bar, and the per-trade figures of metrics.json."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import BacktestResult, run_backtest
from backtests.pipeline.metrics import trade_stats
from strategies.lstm_momentum import LSTMMomentum
from strategies.risk import RiskRules
from tests.builders import build
from tests.paths import bars

# Long from the open of bar 1 (10) to the open of bar 3 (12).
OPENS = [10.0, 10.0, 11.0, 12.0, 12.0]
SIGNAL = [0.01, 0.01, -0.01, np.nan, np.nan]


def path(opens: list[float] = OPENS, spread: float = 0.5) -> pd.DataFrame:
    return bars(opens, spread=spread, signal=SIGNAL[: len(opens)])


def round_trip(broker: BrokerSettings, bars: pd.DataFrame | None = None,
               risk: RiskRules | None = None) -> BacktestResult:
    bars = path() if bars is None else bars
    return run_backtest(bars, LSTMMomentum, {"entry": 0.0, "exit": 0.0}, broker, bars.index[0], risk)


def costs(**kw: float | str) -> BrokerSettings:
    base = {"cash": 10_000.0, "commission": 0.0, "slippage": 0.0, "invest_fraction": 1.0}
    return build("broker/default", **{**base, **kw})


def test_no_costs_is_the_plain_price_move():
    result = round_trip(costs())
    assert result.trades["size"].iloc[0] == 1000
    assert result.equity.iloc[-1] == pytest.approx(10_000 + 1000 * 2)


def test_fraction_commission_on_both_fills():
    result = round_trip(costs(commission=0.001))
    size = 999  # 1000 shares would need 10_000 + 10 commission
    commission = size * 10 * 0.001 + size * 12 * 0.001
    trade = result.trades.iloc[0]
    assert trade["size"] == size
    assert trade["pnl"] == pytest.approx(size * 2 - commission)
    assert result.equity.iloc[-1] == pytest.approx(10_000 + size * 2 - commission)


def test_per_share_commission_with_a_minimum_per_order():
    per_share = costs(commission_type="per_share", per_share=0.01, min_commission=5.0)
    trade = round_trip(per_share).trades.iloc[0]
    assert trade["size"] == 999  # 9990 + 9.99 fits, 10_000 + 10 does not
    assert trade["pnl"] == pytest.approx(999 * 2 - 2 * 9.99)
    small = costs(cash=1000.0, commission_type="per_share", per_share=0.01, min_commission=5.0)
    trade = round_trip(small).trades.iloc[0]
    assert trade["size"] == 99  # 990 + the 5.00 minimum fits, 1000 + 5 does not
    assert trade["pnl"] == pytest.approx(99 * 2 - 2 * 5.0)  # the minimum, not 0.99, on each fill


def test_slippage_buys_higher_and_sells_lower():
    result = round_trip(costs(slippage=0.01))
    trade = result.trades.iloc[0]
    buy, sell = 10 * 1.01, 12 * 0.99
    size = math.floor(10_000 / buy)
    assert (trade["entry_price"], trade["exit_price"]) == (pytest.approx(buy), pytest.approx(sell))
    assert trade["size"] == size
    assert result.equity.iloc[-1] == pytest.approx(10_000 + size * (sell - buy))


def test_commission_and_slippage_together():
    trade = round_trip(costs(slippage=0.001, commission=0.002)).trades.iloc[0]
    buy, sell = 10 * 1.001, 12 * 0.999
    size = math.floor(10_000 / (buy * 1.002))
    assert trade["size"] == size
    assert trade["pnl"] == pytest.approx(size * (sell - buy) - 0.002 * size * (buy + sell))


def test_slippage_never_fills_outside_the_bar():
    bars = path(spread=0.05)  # highs 0.05 above the open: 1% slippage would leave the bar
    trade = round_trip(costs(slippage=0.01), bars).trades.iloc[0]
    assert trade["entry_price"] == pytest.approx(10.05)
    assert trade["exit_price"] == pytest.approx(11.95)


def test_a_stop_fill_slips_too():
    bars = path([10.0, 10.0, 10.0, 10.0, 10.0], spread=0.5)
    bars.iloc[2, bars.columns.get_loc("Low")] = 8.5
    bars["signal"] = [0.01] + [np.nan] * 4
    trade = round_trip(costs(slippage=0.01), bars, build("risk/none", stop_loss=0.1)).trades.iloc[0]
    stop = 10 * 1.01 * 0.9
    assert (trade["exit_price"], trade["exit_reason"]) == (pytest.approx(stop * 0.99), "stop_loss")


# -- per-trade figures ------------------------------------------------------------------------
def test_trade_stats_by_hand():
    trades = pd.DataFrame({
        "size": [10, 20, 10], "entry_price": [100.0, 50.0, 100.0], "exit_price": [110.0, 45.0, 120.0],
        "pnl": [100.0, -100.0, 200.0], "pnl_pct": [0.1, -0.1, 0.2],
        "exit_reason": ["signal", "stop_loss", "end_of_data"],
        "entry_date": ["2021-01-05"] * 3, "exit_date": ["2021-01-07", "2021-01-06", "2021-01-07"],
    })
    index = pd.bdate_range("2021-01-04", periods=4)
    in_market = pd.Series([False, True, True, False], index=index)
    equity = pd.Series([1000.0, 1100.0, 900.0, 1000.0], index=index)
    stats = trade_stats(trades, in_market, equity, periods_per_year=252)
    assert stats["trades"] == 3
    assert stats["win_rate"] == pytest.approx(2 / 3)
    assert stats["profit_factor"] == pytest.approx(300 / 100)
    assert (stats["avg_trade_pnl"], stats["avg_trade_pct"]) == (pytest.approx(200 / 3),
                                                                pytest.approx(0.2 / 3))
    # Held at the closes of days 1 and 2, and through the open of day 3 (the exit): 3 of 4 days.
    assert stats["time_in_market"] == 0.75 and "exposure" not in stats
    stopped_same_day = pd.concat([trades, trades.iloc[:1].assign(entry_date="2021-01-04",
                                                                  exit_date="2021-01-04")])
    assert trade_stats(stopped_same_day, in_market, equity)["time_in_market"] == 1.0
    traded = 1000 + 1100 + 1000 + 900 + 1000  # every entry, and the exits that filled
    assert stats["turnover"] == pytest.approx(traded / 1000 * 252 / 4)


def test_trade_stats_without_trades_or_losses():
    index = pd.bdate_range("2021-01-04", periods=2)
    empty = pd.DataFrame(columns=["size", "entry_price", "exit_price", "pnl", "pnl_pct",
                                  "exit_reason"])
    stats = trade_stats(empty, pd.Series([False, False], index=index), pd.Series([1.0, 1.0], index=index))
    assert stats["trades"] == 0 and stats["turnover"] == 0 and math.isnan(stats["win_rate"])
    winner = pd.DataFrame({"size": [1], "entry_price": [1.0], "exit_price": [2.0], "pnl": [1.0],
                           "pnl_pct": [1.0], "exit_reason": ["signal"], "entry_date": ["2021-01-04"],
                           "exit_date": ["2021-01-05"]})
    assert trade_stats(winner, pd.Series([True], index=index[:1]))["profit_factor"] == math.inf
