"""Strategies that trade a forecast distribution, on hand-made paths through the real broker:
lstm_probability's entries, exits, Kelly sizes and holding periods (hold vs daily), its resizes and
their stops, and the portfolios' rank_by. Every expected number is worked out in the comments."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from backtests.errors import UserError
from backtests.pipeline.costs import BrokerSettings
from backtests.pipeline.engine import TRADE_COLUMNS, new_cerebro
from backtests.settings.validate import validate
from strategies.feeds import SignalData
from strategies.lstm_probability import LSTMProbability, kelly_fraction, variance
from strategies.portfolio.market_neutral import MarketNeutral
from strategies.portfolio.topk import TopK
from strategies.risk import RiskRules
from tests.builders import build
from tests.paths import FREE, bars

NAN = np.nan
INF = math.inf
OPENS = [10.0 + i for i in range(10)]  # open i is 10 + i (and so is close i): a price names its bar


def dist(p_up: list[float], mean: list[float] | float, scale: float = 0.1, df: float = INF,
         opens: list[float] = OPENS, spread: float = 0.01) -> pd.DataFrame:
    """Bars whose close is their open, with the distribution columns of one horizon."""
    frame = bars(opens, opens, spread=spread)
    return frame.assign(p_up=p_up, mean=mean, scale=scale, df=df)


def strategy(frame: pd.DataFrame, risk: RiskRules | None = None, feed: type = LSTMProbability.feed,
             broker: BrokerSettings = FREE, **params: Any) -> LSTMProbability:
    """lstm_probability run from the first close through the engine's broker (cash 1000, no
    costs unless `broker` says), fed through the feed class the strategy names."""
    rules = risk or build("risk/none")
    cerebro = new_cerebro(broker, rules)
    cerebro.adddata(feed(dataname=frame))
    cerebro.addstrategy(LSTMProbability, start=frame.index[0].date(), risk=rules,
                        **{"kelly_scale": 0.5, **params})
    return cerebro.run()[0]


def run(frame: pd.DataFrame, risk: RiskRules | None = None, broker: BrokerSettings = FREE,
        **params: Any) -> pd.DataFrame:
    """The trade log of `strategy`."""
    return pd.DataFrame(strategy(frame, risk, broker=broker, **params).trade_log,
                        columns=TRADE_COLUMNS)


def days(frame: pd.DataFrame, *positions: int) -> list:
    return [frame.index[i].date() for i in positions]


# -- the Kelly fraction ------------------------------------------------------------------------
def test_variance_and_kelly_fraction_of_a_student_t():
    assert variance(0.1, INF) == pytest.approx(0.01)           # Gaussian: scale is the std
    assert variance(0.1, 4.0) == pytest.approx(0.01 * 4 / 2)   # t: scale^2 df / (df - 2)
    assert variance(0.1, 2.0) == INF                           # no finite variance
    assert kelly_fraction(1, 0.01, 0.1, INF, 0.5, 1.0) == pytest.approx(0.5)
    assert kelly_fraction(1, 0.05, 0.1, INF, 0.5, 0.3) == pytest.approx(0.3)   # capped
    assert kelly_fraction(-1, -0.01, 0.1, 4.0, 0.5, 1.0) == pytest.approx(0.25)  # a short's -mean
    assert kelly_fraction(1, -0.01, 0.1, INF, 0.5, 1.0) == 0.0  # mean against the side: no bet
    assert kelly_fraction(1, 0.01, 0.1, 2.0, 0.5, 1.0) == 0.0   # df <= 2: no bet


@pytest.mark.parametrize("mean, df, cap, size", [
    (0.01, INF, 1.0, 45),  # f = 0.5 * 0.01 / 0.01 = 0.5: trunc(500 / open 11)
    (0.05, INF, 0.3, 27),  # f = 2.5, capped at 0.3: trunc(300 / 11)
    (0.01, 4.0, 1.0, 22),  # variance 0.02: f = 0.25, trunc(250 / 11)
])
def test_entry_is_sized_by_the_capped_kelly_fraction(mean, df, cap, size):
    frame = dist([0.6] + [NAN] * 9, mean, df=df)
    trades = run(frame, horizon=1, max_fraction=cap)
    assert trades["entry_date"].tolist() == days(frame, 1)
    assert trades[["size", "entry_price"]].values.tolist() == [[size, 11]]


def test_max_position_still_caps_the_kelly_fraction_of_the_invest_fraction():
    frame = dist([0.6] + [NAN] * 9, 0.01)
    trades = run(frame, build("risk/none", max_position=0.2), horizon=1)
    assert trades["size"].tolist() == [18]  # min(0.5, 0.2) of 1000 at open 11
    part = run(frame, broker=build("broker/default", cash=1000, commission=0.0, slippage=0.0,
                                            invest_fraction=0.8), horizon=1)
    assert part["size"].tolist() == [36]  # 0.5 of a full position, 0.8 of 1000: 400 / 11


# -- entries and exits -------------------------------------------------------------------------
def test_p_up_must_be_strictly_above_the_threshold():
    frame = dist([0.55, 0.5501, 0.56, 0.55, 0.6, NAN, NAN, NAN, NAN, NAN], 0.01)
    trades = run(frame, horizon=1, threshold=0.55, mode="daily")
    # close 0 at the threshold: flat; close 1 just over: in at open 2; close 3 back at it: out at
    # open 4; close 4 over: in at open 5, held through the NaNs to the end
    assert trades["entry_date"].tolist() == days(frame, 2, 5)
    assert trades["exit_date"].tolist() == days(frame, 4, 9)
    assert trades["exit_reason"].tolist() == ["signal", "end_of_data"]
    # 500 / 12 = 41 shares; equity at open 5: 1000 + 41 * (14 - 12) = 1082, half of it / 15 = 36
    assert trades["size"].tolist() == [41, 36]


def test_short_side_only_when_allowed_and_a_reversal():
    p_up = [0.4, 0.4, 0.4, 0.6] + [NAN] * 6
    mean = [-0.01, -0.01, -0.01, 0.01] + [NAN] * 6
    frame = dist(p_up, mean)
    long_only = run(frame, horizon=1, mode="daily")  # P(up) 0.4 is just flat
    assert long_only["direction"].tolist() == ["long"]
    assert long_only["entry_date"].tolist() == days(frame, 4)
    trades = run(frame, horizon=1, mode="daily", allow_short=True)
    assert trades["direction"].tolist() == ["short", "long"]
    assert trades["entry_date"].tolist() == days(frame, 1, 4)
    assert trades["exit_date"].tolist() == days(frame, 4, 9)
    # short f = 0.5 * 0.01 / 0.01: 500 / 11 = 45; covered at 14: pnl -135, equity 865; long
    # 0.5 * 865 / 14 = 30 shares, marked at the last close 19
    assert trades["size"].tolist() == [45, 30]
    assert trades["pnl"].tolist() == pytest.approx([-135, 150])


# -- hold vs daily -----------------------------------------------------------------------------
def test_hold_keeps_the_bet_h_sessions_daily_leaves_the_next_open():
    frame = dist([0.6] + [0.4] * 7 + [NAN] * 2, 0.01)
    held = run(frame, horizon=3, mode="hold")
    daily = run(frame, horizon=3, mode="daily")
    # the bet decided at close 0 covers closes 1-3: in at open 1, first decided again at close 3
    assert (held["entry_date"].tolist(), held["exit_date"].tolist()) == (days(frame, 1), days(frame, 4))
    assert (daily["entry_date"].tolist(), daily["exit_date"].tolist()) == (days(frame, 1), days(frame, 2))
    assert held["exit_price"].tolist() == [14] and daily["exit_price"].tolist() == [12]


MEANS = [0.01, 0.02, 0.02, 0.004, 0.004, 0.004, 0.004, 0.004, 0.004, 0.004]  # f 0.5, 1, 1, 0.2 ...


def test_hold_resizes_only_when_the_bet_matures():
    trades = run(dist([0.6] * 10, MEANS), horizon=3, mode="hold")
    # open 1: 45 shares at 11; the larger fractions at closes 1-2 fall inside the hold; close 3
    # renews the bet at f = 0.2: equity at open 4 = 505 + 45 * 14 = 1135, 0.2 of it / 14 = 16, so
    # 29 are sold at 14; close 6 renews at the same 0.2: no trade. 16 marked at 19 at the end.
    assert len(trades) == 1
    trade = trades.iloc[0]
    assert (trade["size"], trade["entry_price"], trade["exit_reason"]) == (45, 11, "end_of_data")
    assert trade["exit_price"] == pytest.approx((29 * 14 + 16 * 19) / 45)
    assert trade["pnl"] == pytest.approx(29 * 3 + 16 * 8)


def test_daily_resizes_whenever_the_fraction_changes():
    trades = run(dist([0.6] * 10, MEANS), horizon=3, mode="daily")
    # open 1: 45 at 11 (cash 505); close 1 f = 1: equity at open 2 = 505 + 45 * 12 = 1045 -> 87
    # shares, 42 bought at 12; close 3 f = 0.2: equity at open 4 = 1 + 87 * 14 = 1219 -> 17 shares,
    # 70 sold at 14; unchanged fractions after that trade nothing
    assert len(trades) == 1
    trade = trades.iloc[0]
    assert trade["size"] == 87
    assert trade["entry_price"] == pytest.approx((45 * 11 + 42 * 12) / 87)
    assert trade["exit_price"] == pytest.approx((70 * 14 + 17 * 19) / 87)
    assert trade["pnl"] == pytest.approx(-(45 * 11 + 42 * 12) + 70 * 14 + 17 * 19)


def test_a_resize_pays_commission_and_slippage_exactly():
    costs = build("broker/default", cash=1000, commission=0.001, slippage=0.01, invest_fraction=1.0)
    trades = run(dist([0.6] * 10, [0.01] + [0.02] * 9, spread=0.5), broker=costs, horizon=1,
                 mode="daily")
    # open 1 fills at 11.11: 44 shares fit in 500 with 0.1% commission (cash left 510.67116);
    # open 2: equity with the 44 sold at 11.88 less commission = 1032.86844, 85 shares at 12.12
    # with commission fit, so 41 more are bought at 12.12; all 85 marked at 19, no exit costs
    bought = 44 * 11.11 + 41 * 12.12
    assert trades["size"].tolist() == [85]
    assert trades["entry_price"].tolist() == pytest.approx([bought / 85])
    assert trades["pnl"].tolist() == pytest.approx([85 * 19 - bought - 0.001 * bought])


def test_a_short_is_resized_by_its_own_kelly_fraction():
    frame = dist([0.4] * 10, [-0.01] + [-0.02] * 9)
    trades = run(frame, horizon=1, mode="daily", allow_short=True)
    # close 0: f = 0.5, 500 / 11 = 45 sold short at 11; close 1: f = 1, equity at open 2
    # 1000 - 45 * (12 - 11) = 955, 955 / 12 = 79 shares short: 34 more sold at 12; marked at 19
    assert trades["direction"].tolist() == ["short"] and trades["size"].tolist() == [79]
    assert trades["entry_price"].tolist() == pytest.approx([(45 * 11 + 34 * 12) / 79])
    assert trades["pnl"].tolist() == pytest.approx([45 * (11 - 19) + 34 * (12 - 19)])


def test_a_resize_moves_the_stop_to_the_average_entry_and_the_whole_position():
    opens = [10.0, 11.0, 12.0, 12.0, 12.0, 12.0]
    frame = dist([0.6, 0.6, 0.6, NAN, NAN, NAN], [0.01, 0.02, 0.02, NAN, NAN, NAN], opens=opens)
    frame.iloc[3, frame.columns.get_loc("Low")] = 10.0
    trades = run(frame, build("risk/none", stop_loss=0.1), horizon=1, mode="daily")
    # 45 at 11 (stop 9.9), then 42 more at 12: 87 at an average 999 / 87, stop 10% below it;
    # bar 3 trades down to 10: the stop sells all 87 at 0.9 * 999 / 87
    average = 999 / 87
    assert trades["exit_reason"].tolist() == ["stop_loss"]
    assert trades["exit_date"].tolist() == days(frame, 3)
    assert trades["size"].tolist() == [87]
    assert trades["exit_price"].tolist() == pytest.approx([0.9 * average])
    assert trades["pnl"].tolist() == pytest.approx([-0.1 * 999])


def test_why_names_the_inputs_and_the_hold_left():
    frame = dist([0.6] * 3, 0.01, df=5.0, opens=OPENS[:3])
    why = strategy(frame, horizon=3).why()  # in at open 1; closes 1, 2 held, close 3 decides
    assert why.startswith("P(up over 3 sessions) 0.600 against threshold 0.550; mean +1.000%")
    assert "Kelly fraction 0.300 (cap 1)" in why  # 0.5 * 0.01 / (0.01 * 5 / 3)
    assert why.endswith("holding, 1 of 3 sessions left")


def test_no_forecast_no_decision_and_the_config_is_bounded(make_cfg):
    assert run(dist([NAN] * 10, NAN), horizon=1).empty
    with pytest.raises(ValueError, match="needs the feed lines p_up, mean, scale, df"):
        strategy(dist([0.6] * 10, 0.01), feed=SignalData)
    cfg = make_cfg("strategy=lstm_probability", "forecaster=lstm_dist")
    validate(cfg)
    for key, bad in [("strategy.threshold", 0.4), ("strategy.threshold", 1.0),
                     ("strategy.kelly_scale", 0), ("strategy.max_fraction", 1.5),
                     ("strategy.mode", "weekly"), ("strategy.horizon", 0),
                     ("strategy.allow_short", "yes")]:
        broken = cfg.copy()
        OmegaConf.update(broken, key, bad)
        with pytest.raises(UserError) as info:
            validate(broken)
        assert info.value.message.startswith(key)


# -- portfolios: rank_by -----------------------------------------------------------------------
# Three names at a flat price; on every close the forecast ranks A > B > C, P(up) B > C > A, and
# mean / scale C (0.4) > A (0.1) > B (0.02).
RANKS = {"A": {"signal": 0.03, "p_up": 0.52, "mean": 0.01, "scale": 0.1},
         "B": {"signal": 0.02, "p_up": 0.70, "mean": 0.01, "scale": 0.5},
         "C": {"signal": 0.01, "p_up": 0.60, "mean": 0.02, "scale": 0.05}}


def universe(ranks: dict[str, dict[str, float]] = RANKS) -> dict[str, pd.DataFrame]:
    return {name: bars([20.0] * 6, spread=0.01).assign(**cols, df=INF) for name, cols in ranks.items()}


def targets(cls: type, params: dict[str, Any], data: dict[str, pd.DataFrame],
            feed: type = TopK.feed) -> dict[str, float]:
    """The targets the first rebalance close decides."""
    cerebro = new_cerebro(FREE, build("risk/none"))
    for name, frame in data.items():
        cerebro.adddata(feed(dataname=frame), name=name)
    first = next(iter(data.values())).index[0]
    cerebro.addstrategy(cls, start=first.date(), risk=build("risk/none"), rebalance=100, **params)
    strat = cerebro.run()[0]
    return strat.targets[first.date()]


@pytest.mark.parametrize("rank_by, best", [("forecast", "A"), ("p_up", "B"), ("sharpe", "C")])
def test_topk_ranks_by_the_chosen_score(rank_by, best):
    assert targets(TopK, {"k": 1, "rank_by": rank_by}, universe()) == {best: 1.0}


@pytest.mark.parametrize("rank_by, long, short", [("forecast", "A", "C"), ("p_up", "B", "A"),
                                                  ("sharpe", "C", "B")])
def test_market_neutral_shorts_the_lowest_score(rank_by, long, short):
    got = targets(MarketNeutral, {"k": 1, "rank_by": rank_by}, universe())
    assert got == {long: 0.5, short: -0.5}


def test_a_name_without_a_finite_score_is_not_ranked():
    ranks = {**RANKS, "B": {**RANKS["B"], "p_up": NAN}}
    assert targets(TopK, {"k": 2, "rank_by": "p_up"}, universe(ranks)) == {"C": 0.5, "A": 0.5}


def test_rank_by_the_distribution_needs_its_lines():
    with pytest.raises(ValueError, match="rank_by=p_up needs the p_up line"):
        targets(TopK, {"k": 1, "rank_by": "p_up"}, universe(), feed=SignalData)
    assert targets(TopK, {"k": 1}, universe(), feed=SignalData) == {"A": 1.0}
