"""Portfolio strategies on a hand-made three-ticker path through the real engine: who is held after
each rebalance, at which price and cost, the portfolio rules, stops and the breaker, and tables that
add up. Every expected number is worked out by hand in the comments."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from backtests.errors import UserError
from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import run_backtest
from backtests.pipeline.portfolio import PortfolioResult, run_portfolio
from backtests.settings.strategy import is_portfolio, strategy_class_and_params
from backtests.settings.validate import validate
from strategies.buy_and_hold import BuyAndHold
from strategies.portfolio.equal_weight import EqualWeight
from strategies.portfolio.market_neutral import MarketNeutral
from strategies.portfolio.rules import apply_rules, predicted_vol
from strategies.portfolio.selection import top_k
from strategies.portfolio.topk import TopK
from strategies.risk import TRADING_DAYS, RiskRules
from tests.builders import build
from tests.conftest import RISK_LSTM
from tests.paths import FREE, bars, ohlc

ROOT = Path(__file__).resolve().parents[1]
NAN = np.nan
N = 12
# Scores by block of three closes: closes 0-2 A > B > C, 3-5 A > C > B, 6-8 C > B > A, 9-11 A > B > C
SIG = {"A": [.03] * 3 + [.03] * 3 + [.01] * 3 + [.03] * 3,
       "B": [.02] * 3 + [.01] * 3 + [.02] * 3 + [.02] * 3,
       "C": [.01] * 3 + [.02] * 3 + [.03] * 3 + [.01] * 3}
COSTS = build("broker/default", cash=1000, commission=0.001, slippage=0.01, invest_fraction=1.0)


def universe(signal: dict[str, list[float]] = SIG) -> dict[str, pd.DataFrame]:
    """A opens at 10 + i and closes half a point higher; B sits at 20 and C at 50 all along."""
    opens = [10.0 + i for i in range(N)]
    return {"A": bars(opens, [o + 0.5 for o in opens], signal=signal["A"]),
            "B": bars([20.0] * N, signal=signal["B"]), "C": bars([50.0] * N, signal=signal["C"])}


def run(data: dict[str, pd.DataFrame], cls: type = TopK, params: dict | None = None,
        risk: RiskRules | None = None, broker: BrokerSettings = FREE, start: int = 0) -> PortfolioResult:
    first = next(iter(data.values())).index[start]
    return run_portfolio(data, cls, {"k": 2, "rebalance": 3} if params is None else params, broker,
                         first, risk)


DAYS = universe()["A"].index


def day(i: int) -> pd.Timestamp:
    return DAYS[i]


def held(frame: pd.DataFrame) -> list[list[str]]:
    return [sorted(c for c in frame.columns if row[c] != 0) for _, row in frame.iterrows()]


def shares(result: PortfolioResult, data: dict[str, pd.DataFrame], i: int) -> dict[str, float]:
    """Shares held at close i, read back from the holdings table."""
    equity = result.equity.iloc[i]
    return {t: round(result.holdings[t].iloc[i] * equity / data[t]["Close"].iloc[i], 6) for t in data}


# -- who is held, at which price, how often --------------------------------------------------------
def test_topk_holds_the_best_k_after_each_rebalance_at_the_next_open():
    data = universe()
    result = run(data)
    assert list(result.targets.index) == [day(0), day(3), day(6), day(9)]  # every 3 sessions
    assert list(result.weights.index) == [day(1), day(4), day(7), day(10)]  # filled the next open
    assert held(result.weights) == [["A", "B"], ["A", "C"], ["B", "C"], ["A", "B"]]
    # open 1: 1000 cash -> A trunc(500 / 11) = 45, B 500 / 20 = 25, 5 cash left
    # open 4: equity 5 + 45*14 + 25*20 = 1135 -> A trunc(567.5 / 14) = 40, B 0, C trunc(567.5/50) = 11
    # open 7: equity 25 + 40*17 + 11*50 = 1255 -> A 0, B 31, C 12; open 10: 1255 -> A 31, B 31, C 0
    assert shares(result, data, 1) == {"A": 45, "B": 25, "C": 0}
    assert shares(result, data, 4) == {"A": 40, "B": 0, "C": 11}
    assert shares(result, data, 7) == {"A": 0, "B": 31, "C": 12}
    assert shares(result, data, 10) == {"A": 31, "B": 31, "C": 0}
    assert result.weights.loc[day(1)].tolist() == pytest.approx([0.495, 0.5, 0.0])  # at open prices
    assert result.equity.iloc[-1] == pytest.approx(15 + 31 * 21.5 + 31 * 20)  # 1301.5


def test_no_trading_between_rebalances():
    data = universe()
    result = run(data)
    counts = [shares(result, data, i) for i in range(N)]
    for first, last in [(1, 3), (4, 6), (7, 9), (10, 11)]:
        assert all(counts[i] == counts[first] for i in range(first, last + 1))
    fills = set(result.trades["entry_date"]) | set(result.trades["exit_date"])
    assert fills <= {day(i).date() for i in (1, 4, 7, 10, 11)}  # 11: the end-of-data marks


def test_trades_are_round_trips_with_average_prices():
    result = run(universe())
    trades = result.trades.sort_values(["ticker", "entry_date"]).reset_index(drop=True)
    assert trades["ticker"].tolist() == ["A", "A", "B", "B", "C"]
    assert trades["entry_date"].tolist() == [day(i).date() for i in (1, 10, 1, 7, 4)]
    assert trades["exit_date"].tolist() == [day(i).date() for i in (7, 11, 4, 11, 10)]
    assert trades["exit_reason"].tolist() == ["rebalance", "end_of_data", "rebalance", "end_of_data",
                                              "rebalance"]
    # A: 45 bought at 11, 5 sold at 14 and 40 at 17: exit (70 + 680) / 45, pnl 750 - 495 = 255
    first = trades.iloc[0]
    assert (first["size"], first["entry_price"]) == (45, 11)
    assert first["exit_price"] == pytest.approx(750 / 45)
    assert first["pnl"] == pytest.approx(255) and first["pnl_pct"] == pytest.approx(255 / 495)
    # C: 11 then 1 more at 50, all 12 sold at 50; A's last 31 marked at the last close 21.5
    assert trades.iloc[4][["size", "entry_price", "pnl"]].tolist() == [12, 50, 0]
    assert trades.iloc[1][["exit_price", "pnl"]].tolist() == pytest.approx([21.5, 31 * 1.5])


def test_commission_and_slippage_are_charged_exactly():
    data = universe()
    result = run(data, broker=COSTS)
    trades = result.trades.set_index("ticker")
    # buys fill 1% above the open: A at 11.11 (trunc(500 / 11.11) = 45), B at 20.2 (24 shares)
    first = trades[trades["entry_date"] == day(1).date()]
    assert first.loc["A", "entry_price"] == pytest.approx(11.11)
    assert first.loc["B", "entry_price"] == pytest.approx(20.2)
    assert first.loc[["A", "B"], "size"].tolist() == [45, 24]
    cash = 1000 - 45 * 11.11 * 1.001 - 24 * 20.2 * 1.001  # 0.1% commission on each fill
    assert result.equity.iloc[1] == pytest.approx(cash + 45 * 11.5 + 24 * 20)
    # B's round trip: 24 bought at 20.2, sold at open 4 at 20 * 0.99 = 19.8, commission both ways
    assert trades.loc["B"].iloc[0]["exit_price"] == pytest.approx(19.8)
    assert trades.loc["B"].iloc[0]["pnl"] == pytest.approx(24 * (19.8 - 20.2) - 0.001 * 24 * (20.2 + 19.8))


def test_a_buy_is_cut_to_what_the_cash_pays_for_never_rejected(caplog):
    single = {"A": .03, "B": .02, "C": .01}
    data = universe({t: [s] * N for t, s in single.items()})
    result = run(data, params={"k": 1, "rebalance": 20}, broker=COSTS)
    # trunc(1000 / 11.11) = 90 would cost 999.9 + 1.0 commission > 1000: 89 fit
    assert result.trades["size"].tolist() == [89]
    assert "Margin" not in caplog.text and result.equity.iloc[1] > 0


def test_n_drop_turns_over_at_most_n_drop_names_and_keeps_a_slipped_one():
    # four names: k=2 held {A, B}; then C > D > A > B. Top-k swaps both; TopkDropout(n_drop=1) sells
    # only B (the bottom of held + candidates) and buys C, keeping A though it slipped out of the top 2
    first, then = {"A": .04, "B": .03, "C": .02, "D": .01}, {"A": .02, "B": .01, "C": .04, "D": .03}
    signal = {t: [first[t]] * 3 + [then[t]] * (N - 3) for t in "ABCD"}
    data = universe(signal) | {"D": bars([30.0] * N, signal=signal["D"])}
    plain = run(data, params={"k": 2, "rebalance": 3})
    buffered = run(data, params={"k": 2, "rebalance": 3, "n_drop": 1})
    assert held(plain.weights)[:2] == [["A", "B"], ["C", "D"]]
    assert held(buffered.weights)[:3] == [["A", "B"], ["A", "C"], ["C", "D"]]  # one swap each time


def test_topk_dropout_selection_matches_qlib():
    scores = {"A": .02, "B": .01, "C": .04, "D": .03, "E": .00}
    assert top_k(scores, 2) == ["C", "D"]
    assert top_k(scores, 2, ["A", "B"], n_drop=1) == ["A", "C"]
    assert top_k(scores, 2, ["A", "B"], n_drop=2) == ["C", "D"]
    assert top_k(scores, 2, ["A", "B"], n_drop=0) == ["A", "B"]
    assert top_k(scores, 3, ["A"], n_drop=1) == ["A", "C", "D"]  # refills to k
    assert top_k({"A": .01, "C": .04}, 2, ["B", "A"], n_drop=1) == ["A", "C"]  # unscored ranks last


# -- portfolio rules ----------------------------------------------------------------------------
@pytest.mark.parametrize(("rules", "expected"), [
    (build("risk/none", max_weight=0.3), [0.3, 0.3]),   # 0.4 of equity stays in cash
    (build("risk/none", max_gross=0.5), [0.25, 0.25]),
    (build("risk/none", max_net=0.4), [0.2, 0.2]),      # long only: net = gross
])
def test_caps_shrink_the_targets_and_the_positions(rules, expected):
    result = run(universe(), risk=rules)
    assert result.targets.loc[day(0), ["A", "B"]].tolist() == pytest.approx(expected)
    # open 1: A trunc(1000 * w / 11), B trunc(1000 * w / 20)
    sizes = shares(result, universe(), 1)
    assert (sizes["A"], sizes["B"]) == (math.trunc(1000 * expected[0] / 11), 1000 * expected[1] // 20)


def test_max_net_scales_the_larger_side_and_rules_apply_in_order():
    raw = {"A": 0.5, "B": 0.4, "C": -0.3}
    assert apply_rules(raw, build("risk/none", max_net=0.2)) == pytest.approx({"A": 0.5 * 0.5 / 0.9,
                                                                      "B": 0.4 * 0.5 / 0.9, "C": -0.3})
    # regime 0.5 -> .25/.2/-.15; max_weight .2 -> .2/.2/-.15; max_gross .5 of .55
    capped = apply_rules(raw, build("risk/none", max_weight=0.2, max_gross=0.5), scale=0.5)
    assert capped == pytest.approx({"A": 0.2 * 0.5 / 0.55, "B": 0.2 * 0.5 / 0.55, "C": -0.15 * 0.5 / 0.55})


def test_vol_target_scales_by_the_predicted_portfolio_volatility():
    steps = pd.DataFrame({"A": [0.01, -0.01] * 3, "B": [0.02, -0.02] * 3})
    closes = np.exp(pd.concat([pd.DataFrame({"A": [0.0], "B": [0.0]}), steps]).cumsum())
    returns = np.log(closes).diff().iloc[1:]
    vol = predicted_vol({"A": 0.5, "B": 0.5}, returns, {}, "realised")
    assert vol == pytest.approx(0.015 * math.sqrt(6 / 5) * math.sqrt(TRADING_DAYS))  # corr 1
    rules = build("risk/none", vol_target=vol / 2, vol_lookback=6)
    assert apply_rules({"A": 0.5, "B": 0.5}, rules, closes=closes) == pytest.approx({"A": .25, "B": .25})
    # forecast: D R D with daily vols .01 and .02 and the trailing correlation 1
    forecast = predicted_vol({"A": 0.5, "B": 0.5}, returns, {"A": .01, "B": .02}, "forecast")
    assert forecast == pytest.approx(0.015 * math.sqrt(TRADING_DAYS))
    short = build("risk/none", vol_target=0.1, vol_lookback=10)  # too little history: no position
    assert apply_rules({"A": 0.5}, short, closes=closes) == {}


def test_regime_scales_the_gross_exposure():
    regime = pd.Series(0.5, index=DAYS)
    result = run(universe(), params={"k": 2, "rebalance": 3, "regime": regime})
    assert result.targets.loc[day(0), ["A", "B"]].tolist() == [0.25, 0.25]


def test_inverse_vol_weights_by_the_forecast_volatility():
    data = universe()
    data["A"]["volatility"], data["B"]["volatility"] = 0.01, 0.02
    rules = build("risk/none", vol_source="forecast")
    result = run(data, params={"k": 2, "rebalance": 3, "weighting": "inverse_vol"}, risk=rules)
    assert result.targets.loc[day(0), ["A", "B"]].tolist() == pytest.approx([2 / 3, 1 / 3])


# -- market neutral -----------------------------------------------------------------------------
def test_few_forecasts_never_make_one_name_the_whole_book():
    """Only A has a forecast at the first close: TopK(k=2) puts 1/2 in it, the rest in cash;
    MarketNeutral(k=2) with A and B scored takes one name a side at the k-slot weight (0.25), and
    with only A scored stays flat (one side would be empty: not dollar neutral)."""
    only_a = {"A": SIG["A"], "B": [NAN] + SIG["B"][1:], "C": [NAN] + SIG["C"][1:]}
    assert run(universe(only_a), TopK).targets.loc[day(0)].tolist() == [0.5, 0.0, 0.0]
    a_and_b = {"A": SIG["A"], "B": SIG["B"], "C": [NAN] + SIG["C"][1:]}
    neutral = run(universe(a_and_b), MarketNeutral, {"k": 2, "rebalance": 3})
    assert neutral.targets.loc[day(0)].tolist() == [0.25, -0.25, 0.0]
    alone = run(universe(only_a), MarketNeutral, {"k": 2, "rebalance": 3})
    assert alone.targets.loc[day(0)].abs().sum() == 0.0


def test_market_neutral_is_dollar_neutral_up_to_whole_shares():
    data = universe()
    result = run(data, MarketNeutral, {"k": 1, "rebalance": 3})
    assert result.targets.loc[day(0)].tolist() == [0.5, 0.0, -0.5]  # A long, C short
    assert result.targets.loc[day(3)].tolist() == [0.5, -0.5, 0.0]  # B now the worst
    assert result.targets.loc[day(6)].tolist() == [-0.5, 0.0, 0.5]  # reversed: two round trips
    # open 1: long trunc(500 / 11) = 45 A, short 500 / 50 = 10 C
    assert result.weights.loc[day(1)].tolist() == pytest.approx([0.495, 0.0, -0.5])
    for date, row in result.weights.iterrows():  # each side short of 0.5 by less than one share
        share = {t: data[t].loc[date, "Open"] / result.equity.loc[date] for t in data}
        slack = sum(share[t] for t in row.index if row[t] != 0)
        assert abs(row.sum()) < slack and 1 - slack < row.abs().sum() <= 1
    directions = result.trades.sort_values(["entry_date", "ticker"])[["ticker", "direction"]]
    assert directions.values.tolist() == [["A", "long"], ["C", "short"], ["B", "short"],
                                          ["A", "short"], ["C", "long"], ["A", "long"], ["C", "short"]]


# -- stops and the breaker ----------------------------------------------------------------------
def test_a_stop_exits_and_the_name_stays_out_until_the_next_rebalance():
    rows = [(11, 11.2, 10.8, 11)] * N
    rows[3] = (11, 11.2, 9.5, 10.5)  # trades through 11 * 0.9 = 9.9
    data = universe({"A": [.03] * N, "B": [.02] * N, "C": [.01] * N})
    data["A"] = ohlc(rows, signal=[.03] * N)
    result = run(data, params={"k": 1, "rebalance": 5}, risk=build("risk/none", stop_loss=0.1))
    trades = result.trades
    assert trades["exit_reason"].tolist() == ["stop_loss", "end_of_data"]
    assert trades["exit_price"].iloc[0] == pytest.approx(9.9) and trades["size"].iloc[0] == 90
    assert trades["exit_date"].iloc[0] == day(3).date()
    assert trades["entry_date"].tolist() == [day(1).date(), day(6).date()]  # rebalance closes 0, 5
    assert not result.in_market.iloc[3:6].any() and result.in_market.iloc[6]


@pytest.mark.parametrize(("rules", "reason", "price", "bar"), [
    (build("risk/none", take_profit=0.1), "take_profit", 12.1, 2),      # 11 * 1.1, inside bar 2 (12 to 13)
    (build("risk/none", trailing_stop=0.1), "trailing_stop", 11.7, 3),  # 10% behind bar 2's close of 13
])
def test_take_profit_and_trailing_stop_exit_each_name(rules, reason, price, bar):
    rows = [(11, 11.2, 10.8, 11), (11, 11.2, 10.8, 11), (12, 13, 12, 13), (12.5, 12.6, 11.5, 12)]
    rows += [(12, 12.1, 11.9, 12)] * (N - 4)
    data = universe({"A": [.03] * N, "B": [.02] * N, "C": [.01] * N})
    data["A"] = ohlc(rows, signal=[.03] * N)
    result = run(data, params={"k": 1, "rebalance": 20}, risk=rules)
    assert result.trades["exit_reason"].tolist() == [reason]
    assert result.trades["exit_price"].iloc[0] == pytest.approx(price)
    assert result.trades["exit_date"].iloc[0] == day(bar).date()


def test_a_rebalance_open_that_gaps_through_the_stop_is_the_stops_fill():
    rows = [(11, 11.2, 10.8, 11)] * 4 + [(9, 9.2, 8.8, 9)] * (N - 4)  # open 4 below 11 * 0.9 = 9.9
    data = universe({"A": [.03] * N, "B": [.02] * N, "C": [.01] * N})
    data["A"] = ohlc(rows, signal=[.03] * N)
    result = run(data, params={"k": 1, "rebalance": 3}, risk=build("risk/none", stop_loss=0.1))
    # close 3 still wants A, but the stop fills at open 4 (at that open, 9) and A sits out to open 7
    assert result.trades["exit_reason"].tolist() == ["stop_loss", "end_of_data"]
    assert result.trades["exit_price"].iloc[0] == 9 and result.trades["exit_date"].iloc[0] == day(4).date()
    assert result.trades["entry_date"].tolist() == [day(1).date(), day(7).date()]
    assert result.weights.loc[day(4)].abs().sum() == 0.0  # the day's fills include the stop's
    # every fill counts in the value traded: in at open 1 (90 x 11), out at 9, in again at open 7
    assert result.traded.loc[day(1).date()] == 90 * 11 and result.traded.loc[day(4).date()] == 90 * 9


def test_a_rebalance_resize_resizes_the_stop():
    data = universe({"A": [.03] * N, "B": [.02] * N, "C": [.01] * N})
    rows = [(20, 20.2, 19.8, 20)] * N
    rows[9] = (20, 20.2, 17.5, 19)  # below 20 * 0.9 = 18 once
    data["B"] = ohlc(rows, signal=[.02] * N)
    result = run(data, params={"k": 2, "rebalance": 3}, risk=build("risk/none", stop_loss=0.1))
    b = result.trades[result.trades["ticker"] == "B"]
    # B is resized at opens 4 and 7 as A's price grows; the stop always covers the whole position
    assert b["exit_reason"].tolist() == ["stop_loss", "end_of_data"]  # back in after close 9
    assert b["exit_price"].iloc[0] == pytest.approx(18) and b["exit_date"].iloc[0] == day(9).date()
    assert shares(result, data, 9)["B"] == 0 and b["size"].iloc[0] == shares(result, data, 8)["B"]
    assert shares(result, data, 1)["B"] != shares(result, data, 8)["B"]  # it was resized


def test_drawdown_breaker_flattens_and_sits_out_the_cooldown():
    opens = [10, 10, 10, 8.5] + [8.5] * (N - 4)
    closes = [10, 10, 8.5] + [8.5] * (N - 3)
    data = universe({"A": [.03] * N, "B": [.02] * N, "C": [.01] * N})
    data["A"] = bars(opens, closes, signal=[.03] * N)
    rules = build("risk/none", max_drawdown=0.1, cooldown_days=3)
    result = run(data, params={"k": 1, "rebalance": 1}, risk=rules)
    trades = result.trades
    # 100 shares at 10; close 2 at 8.5 is 15% down: out at open 3; closes 3, 4 blocked; back at 6
    assert trades["exit_reason"].tolist() == ["drawdown_breaker", "end_of_data"]
    assert trades["exit_date"].iloc[0] == day(3).date() and trades["exit_price"].iloc[0] == 8.5
    assert trades["entry_date"].tolist() == [day(1).date(), day(6).date()]


# -- the benchmark, calendars and feeds of different lengths -------------------------------------
def test_equal_weight_rebalances_on_the_first_session_of_each_month():
    closes = [100.0 * (1.01 ** i) for i in range(10)]
    data = {t: bars(closes, signal=[NAN] * 10, start="2021-01-25") for t in "ABC"}  # no forecast used
    result = run_portfolio(data, EqualWeight, {}, FREE, data["A"].index[0])
    assert [d.date().isoformat() for d in result.targets.index] == ["2021-01-25", "2021-02-01"]
    assert result.targets.iloc[0].tolist() == pytest.approx([1 / 3] * 3)
    assert [d.date().isoformat() for d in result.weights.index] == ["2021-01-26", "2021-02-02"]


def test_feeds_that_start_late_or_end_early():
    data = universe({"A": [.02] * N, "B": [.01] * N, "C": [.03] * N})
    data["C"] = data["C"].iloc[2:]  # listed at close 2
    data["B"] = data["B"].iloc[:6]  # last bar at close 5
    result = run(data, params={"k": 2, "rebalance": 1})
    assert held(result.targets)[:3] == [["A", "B"], ["A", "B"], ["A", "C"]]
    b = result.trades[result.trades["ticker"] == "B"]
    # B leaves at open 3 for C; no trades in B after its feed ends, nothing fills at a stale price
    assert b["exit_date"].tolist() == [day(3).date()]
    assert result.trades[result.trades["ticker"] == "C"]["entry_date"].tolist() == [day(3).date()]


def test_a_position_in_a_feed_that_ends_is_marked_at_its_last_close():
    data = universe({"A": [.02] * N, "B": [.01] * N, "C": [NAN] * N})
    data["B"] = bars([20.0] * 6, [20.0, 20, 20, 20, 20, 21], signal=[.01] * 6)  # ends at close 5
    result = run(data, params={"k": 2, "rebalance": 1})
    b = result.trades[result.trades["ticker"] == "B"].iloc[0]
    assert (b["exit_date"], b["exit_price"], b["exit_reason"]) == (day(5).date(), 21, "end_of_data")
    assert shares(result, {**data, "B": data["B"].reindex(DAYS).ffill()}, 11)["B"] == b["size"]


# -- tables and look-ahead ------------------------------------------------------------------------
def test_returns_equity_and_exposure_agree():
    data = universe()
    result = run(data, broker=COSTS)
    assert np.prod(1 + result.returns) == pytest.approx(result.equity.iloc[-1] / result.equity.iloc[0])
    assert result.returns.iloc[0] == 0.0 and list(result.returns.index) == list(DAYS)
    assert (result.exposure["gross"] == result.holdings.abs().sum(axis=1)).all()
    assert result.in_market.tolist() == [False] + [True] * (N - 1)
    # holdings at close 1: 45 A at 11.5 over the equity at that close
    assert result.holdings.loc[day(1), "A"] == pytest.approx(45 * 11.5 / result.equity.iloc[1])


def test_a_weight_decided_at_a_close_depends_on_nothing_after_it():
    rng = np.random.default_rng(7)
    n, cut = 40, 25
    walk = {t: 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n))) for t in "ABC"}
    sig = {t: rng.normal(0, 0.01, n) for t in "ABC"}

    def frames(shock: float) -> dict[str, pd.DataFrame]:
        out = {}
        for t in "ABC":
            closes, signal = walk[t].copy(), sig[t].copy()
            closes[cut + 1:] *= shock
            signal[cut + 1:] *= -shock
            out[t] = bars(closes, closes, signal=signal)
        return out

    params = {"k": 2, "rebalance": 2, "weighting": "inverse_vol"}
    rules = build("risk/none", vol_target=0.2, vol_lookback=5, stop_loss=0.05)
    base, moved = (run_portfolio(f, TopK, params, FREE, f["A"].index[6], rules)
                   for f in (frames(1.0), frames(1.7)))
    t = base.equity.index[cut - 6]
    early = base.targets.index <= t
    pd.testing.assert_frame_equal(base.targets[early], moved.targets[moved.targets.index <= t])
    assert early.sum() > 5 and not base.targets.equals(moved.targets)
    pd.testing.assert_frame_equal(base.weights[base.weights.index <= t],
                                  moved.weights[moved.weights.index <= t])


# -- single-ticker vol_source, configs ------------------------------------------------------------
def test_single_ticker_vol_target_can_use_the_forecast_volatility():
    frame = bars([10.0] * 6)
    frame["volatility"] = [0.01, 0.01, NAN, 0.01, 0.01, 0.01]
    target = 0.005 * math.sqrt(TRADING_DAYS)  # half the forecast's annualised 1%: half the equity
    rules = build("risk/none", vol_target=target, vol_source="forecast")
    trades = run_backtest(frame, BuyAndHold, {}, FREE, frame.index[0], rules).trades
    assert trades["size"].tolist() == [50]
    late = run_backtest(frame, BuyAndHold, {}, FREE, frame.index[2], rules).trades
    assert late["entry_date"].tolist() == [frame.index[4].date()]  # NaN at close 2: no position


@pytest.mark.parametrize("name", ["topk", "market_neutral"])
def test_portfolio_configs_match_their_class(name):
    section = OmegaConf.load(ROOT / "conf" / "strategy" / f"{name}.yaml")
    cls, params = strategy_class_and_params(section)
    assert is_portfolio(cls) and not is_portfolio(BuyAndHold)
    assert set(params) == set(cls.params._getkeys()) - {"start", "risk", "regime", "members"}
    assert params == {"k": 5, "weighting": "equal", "n_drop": None, "rebalance": 5,
                      "rank_by": "forecast"}


def test_portfolio_settings_are_bounded(make_cfg):
    cfg = make_cfg("strategy=topk", "universe.tickers=[AAA,BBB,CCC]", "risk.max_weight=0.2",
                   "risk.vol_source=forecast", RISK_LSTM)  # sizing on forecasts needs the risk LSTM
    validate(cfg)
    for key, bad in [("strategy.k", 0), ("strategy.weighting", "best"), ("strategy.n_drop", -1),
                     ("strategy.rank_by", "best"),
                     ("risk.max_weight", 1.5), ("risk.max_gross", 0), ("risk.vol_source", "guess")]:
        broken = cfg.copy()
        OmegaConf.update(broken, key, bad)
        with pytest.raises(UserError) as info:
            validate(broken)
        assert info.value.message.startswith(key)
