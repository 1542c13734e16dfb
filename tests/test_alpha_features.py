"""features=alpha158 and features=alpha360: known answers on small hand-made paths, no gaps on
degenerate ones, and every value the same when the bars after it are cut (past-only)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.data.synthetic import synthetic_bars
from forecasting import alpha158 as a
from forecasting.alpha360 import VolumeChange
from forecasting.features import FeatureBuilder
from tests.builders import build


def bars(close, open_=None, high=None, low=None, volume=None) -> pd.DataFrame:
    close = np.asarray(close, dtype=float)
    n = len(close)
    return pd.DataFrame({"Open": close - 0.5 if open_ is None else open_,
                         "High": close + 1 if high is None else high,
                         "Low": close - 0.5 if low is None else low, "Close": close,
                         "Volume": np.full(n, 100.0) if volume is None else volume},
                        index=pd.bdate_range("2020-01-01", periods=n))


RISING = bars(np.arange(1.0, 11.0))  # closes 1..10, high close + 1, low close - 0.5, volume 100


def last(feature, frame=RISING) -> float:
    return float(feature(frame).iloc[-1])


def test_the_candle_of_one_bar():
    day = bars([11.0], open_=[10.0], high=[12.0], low=[9.0])
    assert last(a.CandleBody(relative_to="open"), day) == pytest.approx(0.1)
    assert last(a.CandleBody(relative_to="range"), day) == pytest.approx(1 / 3)
    assert last(a.CandleLength(), day) == pytest.approx(0.3)
    assert last(a.UpperShadow(relative_to="open"), day) == pytest.approx(0.1)
    assert last(a.LowerShadow(relative_to="range"), day) == pytest.approx(1 / 3)
    assert last(a.CloseInRange(relative_to="open"), day) == pytest.approx(0.1)
    assert last(a.PriceToClose(price="Typical"), day) == pytest.approx(math.log(32 / 3 / 11))
    assert last(a.PriceToClose(price="High"), day) == pytest.approx(math.log(12 / 11))


def test_rolling_families_on_a_straight_rise():
    w = 5  # the window ending at the last bar holds closes 6..10
    assert last(a.Momentum(window=w)) == pytest.approx(math.log(10 / 5))
    assert last(a.PriceDeviation(window=w)) == pytest.approx(math.sqrt(2.5) / 10)
    assert last(a.TrendSlope(window=w)) == pytest.approx(1 / 10)
    assert last(a.TrendFit(window=w)) == pytest.approx(1.0)
    assert last(a.TrendResidual(window=w)) == pytest.approx(0.0, abs=1e-12)
    assert last(a.HighGap(window=w)) == pytest.approx(math.log(11 / 10))
    assert last(a.LowGap(window=w)) == pytest.approx(math.log(5.5 / 10))
    assert last(a.QuantileGap(window=w, quantile=0.8)) == pytest.approx(math.log(9.2 / 10))
    assert last(a.ClosePercentile(window=w)) == pytest.approx(1.0)
    assert last(a.StochasticPosition(window=w)) == pytest.approx(4.5 / 5.5)
    assert last(a.DaysSinceHigh(window=w)) == 0.0
    assert last(a.DaysSinceLow(window=w)) == pytest.approx(4 / 5)
    assert last(a.UpDayShare(window=w)) == 1.0 and last(a.GainShare(window=w)) == 1.0
    assert last(a.VolumeToAverage(window=w)) == 0.0 and last(a.VolumeVariation(window=w)) == 0.0
    assert last(a.PriceVolumeCorrelation(window=w)) == 0.0  # flat volume: no correlation


def test_warm_up_is_exactly_the_window():
    values = a.TrendSlope(window=5)(RISING)
    assert values.iloc[:4].isna().all() and values.iloc[4:].notna().all()
    momentum = a.Momentum(window=5)(RISING)  # needs the close five days before: one bar more
    assert momentum.iloc[:5].isna().all() and momentum.iloc[5:].notna().all()


def test_a_v_shaped_path_ranks_and_dates_its_extremes():
    v = bars([5.0, 4, 3, 2, 1, 2, 3], high=[5.0, 4, 3, 2, 1, 2, 3], low=[5.0, 4, 3, 2, 1, 2, 3])
    assert last(a.DaysSinceLow(window=5), v) == pytest.approx(2 / 5)   # the low of 1, two days ago
    assert last(a.DaysSinceHigh(window=5), v) == pytest.approx(0 / 5)  # 3 today ties 3 four days ago
    assert last(a.ClosePercentile(window=5), v) == pytest.approx((3 + 1.5) / 5)  # two 3s: ties averaged
    assert last(a.UpDayShare(window=5), v) == pytest.approx(2 / 5)
    assert last(a.GainShare(window=5), v) == pytest.approx(2 / 5)  # +1 +1 against -1 -1 -1
    assert last(a.PriceVolumeCorrelation(window=5), v) == 0.0


def test_the_spread_of_traded_moves():
    steady = bars(100 * 1.01 ** np.arange(8))  # every move 1%, the same volume: no spread at all
    assert last(a.MoveVolumeVariation(window=5), steady) == pytest.approx(0.0, abs=1e-9)
    volume = np.array([100.0] * 7 + [200.0])  # today's move traded twice the volume
    spiked = bars(100 * 1.01 ** np.arange(8), volume=volume)
    assert last(a.MoveVolumeVariation(window=5), spiked) == pytest.approx(math.sqrt(0.2) / 1.2)
    assert last(a.VolumeToAverage(window=5), spiked) == pytest.approx(math.log(121 / 201))
    assert last(a.VolumeVariation(window=5), spiked) == pytest.approx(math.sqrt(2000) / 121)


def test_alpha158_has_no_gap_on_flat_prices_and_days_without_trades():
    flat = bars(np.full(80, 10.0), open_=np.full(80, 10.0), high=np.full(80, 10.0),
                low=np.full(80, 10.0), volume=np.where(np.arange(80) % 7 == 0, 0.0, 50.0))
    table = build("features/alpha158")(flat)
    assert len(table) == 80 - 60 and np.isfinite(table.to_numpy()).all()
    assert (table["trend_fit_20"] == 0).all() and (table["gain_share_5"] == 0.5).all()


@pytest.mark.parametrize("name, columns, warmup", [("alpha158", 113, 60), ("alpha360", 6, 1)])
def test_each_set_is_past_only_and_complete(name, columns, warmup):
    builder: FeatureBuilder = build(f"features/{name}")
    market = synthetic_bars(400, seed=3)
    full = builder(market)
    assert full.shape == (400 - warmup, columns) and len(set(full.columns)) == columns
    for cut in (150, 271):
        np.testing.assert_array_equal(builder(market.iloc[:cut]).to_numpy(),
                                      full.loc[:market.index[cut - 1]].to_numpy())


def test_an_alpha360_window_carries_qlibs_ratios_to_the_last_close():
    market = synthetic_bars(100, seed=4)
    table = build("features/alpha360")(market)
    window = table.iloc[-60:]  # forecaster.window=60: the last 60 rows
    close = market["Close"].loc[window.index]
    # qlib's CLOSE_i = close_(t-i) / close_t, rebuilt from the window's returns (i = 59 ... 1)
    rebuilt = -window["close_return"][::-1].cumsum()[::-1].shift(-1).iloc[:-1]
    np.testing.assert_allclose(rebuilt.to_numpy(), np.log(close / close.iloc[-1]).iloc[:-1], atol=1e-12)
    # qlib's OPEN_i = open_(t-i) / close_t: the row's open over its own close plus that ratio
    opens = window["open_to_close"].iloc[:-1] + rebuilt
    np.testing.assert_allclose(opens.to_numpy(),
                               np.log(market["Open"].loc[window.index] / close.iloc[-1]).iloc[:-1],
                               atol=1e-12)
    volume = VolumeChange()(market)
    assert volume.iloc[-1] == pytest.approx(np.log1p(market["Volume"].iloc[-1])
                                            - np.log1p(market["Volume"].iloc[-2]))


@pytest.mark.parametrize("overrides", [("features=alpha158", "forecaster=ridge", "forecaster.window=1"),
                                       ("features=alpha360", "forecaster=lightgbm_tiny",
                                        "forecaster.window=60")])
def test_the_audit_passes_bit_for_bit_with_each_set(make_cfg, tmp_path, overrides):
    import json

    from backtests.modes.audit import run_audit

    assert run_audit(make_cfg(*overrides), cutoffs=2, atol=0.0) == 0.0
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "PASS" and "features" in report["checked"]
