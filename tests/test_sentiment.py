"""The sentiment index: known answers on hand-made frames, scipy's own numbers, no look-ahead, and
a verdict that finds a planted signal and does not find one in noise."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from scipy import stats

from backtests.outputs.figures.sentiment import write_sentiment_plot
from backtests.outputs.html import esc
from backtests.outputs.sections.sentiment import sentiment_section
from backtests.settings.bounds import bounds_of
from forecasting.scoring import diebold_mariano, wilson_interval
from forecasting.universe.sentiment import (
    INDEX_COLUMNS,
    MIN_PAST,
    SentimentSettings,
    judge_sentiment,
    past_only_forecasts,
    regime_scale,
    sentiment_index,
    sentiment_outcomes,
)
from tests.builders import build
from tests.conftest import CONF

D = pd.to_datetime(["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04"])


def hand_long() -> pd.DataFrame:
    rows = [(D[0], "A", 0.002), (D[0], "B", -0.001), (D[0], "C", 0.0003), (D[0], "D", 0.0005),
            (D[1], "A", 0.001), (D[1], "B", math.nan), (D[1], "C", 0.003),  # D: no row at all
            (D[2], "A", -0.002), (D[2], "B", -0.003), (D[2], "C", 0.0001), (D[2], "D", 0.004)]
    return pd.DataFrame(rows, columns=["date", "ticker", "forecast"]).assign(actual=0.0, scored=1)


def test_index_known_answers_with_dead_band_and_missing_tickers():
    index = sentiment_index(hand_long(), dead_band=0.0005, min_tickers=3)
    assert list(index.index) == [D[0], D[2]]  # D[1] has two finite forecasts: dropped
    assert list(index.columns) == list(INDEX_COLUMNS)
    first, third = index.loc[D[0]], index.loc[D[2]]
    # 0.0003 is inside the band and 0.0005 sits on it: neither counts as up
    assert (first["breadth"], first["bearish"], first["net_breadth"]) == (0.25, 0.25, 0.0)
    assert first["mean_forecast"] == pytest.approx(0.0018 / 4, abs=1e-15)
    assert first["dispersion"] == pytest.approx(np.std([0.002, -0.001, 0.0003, 0.0005]), abs=1e-15)
    assert (third["breadth"], third["bearish"], third["net_breadth"]) == (0.25, 0.5, -0.25)
    assert list(index["tickers"]) == [4, 4]
    loose = sentiment_index(hand_long(), dead_band=0.0, min_tickers=2)
    assert list(loose["tickers"]) == [4, 2, 4]
    assert list(loose["breadth"]) == [0.75, 1.0, 0.5]
    assert list(loose["bearish"]) == [0.25, 0.0, 0.5]
    assert loose.loc[D[1], "dispersion"] == pytest.approx(0.001, abs=1e-15)


def hand_closes() -> pd.DataFrame:
    return pd.DataFrame({"A": [100, 110, 99, 99], "B": [50, 50, 55, 44],
                         "C": [20, math.nan, 22, 24]}, index=D, dtype=float)


def test_outcomes_by_hand():
    index = pd.DataFrame({"breadth": [0.5, 0.5, 0.5, 0.5]}, index=D)
    table = sentiment_outcomes(index, hand_closes(), week=2)
    r3 = (0 - 0.2 + 24 / 22 - 1) / 3
    expected_day = [0.05, 0.0, r3, math.nan]  # A +10%, B 0 (C has no close on the 2nd) ...
    np.testing.assert_allclose(table["next_day_return"], expected_day, atol=1e-12)
    np.testing.assert_allclose(table["next_week_return"], [1.05 * 1.0 - 1, r3, math.nan, math.nan],
                               atol=1e-12)
    # B's 0% is not a rise; on the 3rd A is flat, B falls, C rises
    np.testing.assert_allclose(table["realised_breadth"], [0.5, 0.5, 1 / 3, math.nan], atol=1e-12)
    np.testing.assert_allclose(table["index_level"], [1, 1.05, 1.05, 1.05 * (1 + r3)], atol=1e-12)
    later = sentiment_outcomes(index.iloc[1:], hand_closes(), week=1)  # rebased at its first date
    np.testing.assert_allclose(later["index_level"], [1, 1, 1 + r3], atol=1e-12)
    np.testing.assert_allclose(later["next_week_return"], later["next_day_return"], atol=1e-12)


def random_table(seed: int, days: int = 300, week: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=days)
    breadth = rng.integers(0, 5, days) / 4
    day = rng.normal(0, 0.01, days)
    day[-1] = math.nan
    growth = pd.Series(np.log1p(day)).rolling(week).sum().shift(-(week - 1))
    return pd.DataFrame({"breadth": breadth, "mean_forecast": rng.normal(0, 0.001, days),
                         "next_day_return": day, "next_week_return": np.expm1(growth).to_numpy(),
                         "realised_breadth": rng.integers(0, 5, days) / 4}, index=dates)


def test_correlations_and_pvalues_are_scipys_on_the_same_arrays():
    table = random_table(3)
    block = judge_sentiment(table, week=5)
    for signal in ("breadth", "mean_forecast"):
        s = block["signals"][signal]
        day = table[[signal, "next_day_return"]].dropna()
        weekly = table[[signal, "next_week_return"]].dropna().iloc[::5]
        for key, frame, outcome in (("day", day, "next_day_return"),
                                    ("week", weekly, "next_week_return")):
            pearson = stats.pearsonr(frame[signal], frame[outcome])
            spearman = stats.spearmanr(frame[signal], frame[outcome])
            assert s[f"{key}_pearson"] == pytest.approx(pearson[0], abs=1e-12)
            assert s[f"{key}_pearson_p"] == pytest.approx(pearson[1], abs=1e-12)
            assert s[f"{key}_spearman"] == pytest.approx(spearman[0], abs=1e-12)
            assert s[f"{key}_spearman_p"] == pytest.approx(spearman[1], abs=1e-12)
    assert block["signals"]["breadth"]["week_samples"] == len(range(0, 295, 5)) == block["weeks"]
    assert block["days"] == 299
    agree = table.dropna(subset=["next_day_return"])
    assert block["realised_breadth"]["pearson"] == pytest.approx(
        stats.pearsonr(agree["breadth"], agree["realised_breadth"])[0], abs=1e-12)
    same = np.mean((agree["breadth"] > 0.5) == (agree["realised_breadth"] > 0.5))
    assert block["realised_breadth"]["same_side"] == pytest.approx(same, abs=1e-15)


def test_dm_uses_a_regression_fitted_on_earlier_days_only():
    table = random_table(4, days=80)
    day = table[["breadth", "next_day_return"]].dropna()
    x, y = day["breadth"].to_numpy(), day["next_day_return"].to_numpy()
    model, benchmark = [], []
    for t in range(MIN_PAST, len(y)):  # the slow, obvious way: refit on rows 0..t-1
        slope, intercept = np.polyfit(x[:t], y[:t], 1)
        model.append(intercept + slope * x[t])
        benchmark.append(y[:t].mean())
    fast_model, fast_bench = past_only_forecasts(x, y)
    assert np.isnan(fast_model[:MIN_PAST]).all() and np.isnan(fast_bench[:MIN_PAST]).all()
    np.testing.assert_allclose(fast_model[MIN_PAST:], model, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast_bench[MIN_PAST:], benchmark, rtol=1e-12)
    a, m, b = y[MIN_PAST:], np.array(model), np.array(benchmark)
    stat, p = diebold_mariano(m - a, b - a)
    dm = judge_sentiment(table)["signals"]["breadth"]["regression"]
    assert (dm["dm_statistic"], dm["dm_pvalue"]) == pytest.approx((stat, p), abs=1e-9)
    assert dm["dm_days"] == len(y) - MIN_PAST
    changed = y.copy()
    changed[50:] = 1.0  # outcomes from day 50 on must not move any forecast made up to day 50
    np.testing.assert_array_equal(past_only_forecasts(x, changed)[0][:51], fast_model[:51])


def test_hit_rate_against_always_up_by_hand():
    table = pd.DataFrame({"breadth": [0.75, 0.25, 0.75, 0.5, 1.0, 0.0],
                          "mean_forecast": [0.001, -0.001, -0.002, 0.0, 0.003, 0.001],
                          "next_day_return": [0.01, -0.01, -0.02, 0.01, 0.02, -0.01],
                          "next_week_return": [0.0] * 6, "realised_breadth": [0.5] * 6},
                         index=pd.bdate_range("2021-01-04", periods=6))
    s = judge_sentiment(table)["signals"]
    # breadth calls up, down, up, down (0.5 is not above), up, down: right 4 times of 6
    assert s["breadth"]["hit_rate"] == pytest.approx(4 / 6)
    assert s["breadth"]["hit_ci95"] == pytest.approx(list(wilson_interval(4, 6)))
    assert s["breadth"]["up_share"] == pytest.approx(3 / 6)
    # mean forecast calls up, down, down, down (0 is not above), up, up: right 4 times of 6
    assert s["mean_forecast"]["hit_rate"] == pytest.approx(4 / 6)


def planted(seed: int, days: int = 400, lead: float = 0.6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long forecasts, closes) of 4 tickers; each forecast sees `lead` of tomorrow's market move."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-01", periods=days)
    market = rng.normal(0, 0.01, days)
    returns = market[:, None] + rng.normal(0, 0.005, (days, 4))
    returns[0] = 0.0
    closes = pd.DataFrame(100 * np.exp(np.cumsum(returns, axis=0)), index=dates,
                          columns=list("ABCD"))
    tomorrow = np.r_[market[1:], 0.0]
    forecast = lead * tomorrow[:, None] + rng.normal(0, 0.01, (days, 4))
    long = pd.DataFrame({"date": np.repeat(dates, 4), "ticker": np.tile(list("ABCD"), days),
                         "forecast": forecast.ravel()})
    return long, closes


def test_a_planted_leading_index_is_found():
    long, closes = planted(7)
    table, block = build("sentiment/default").evaluate(long, closes)
    b = block["signals"]["breadth"]
    assert b["day_pearson"] > 0.3 and b["day_pearson_p"] < 1e-6
    assert b["hit_rate"] > b["up_share"] and b["hit_ci95"][0] > b["up_share"]
    assert b["regression"]["dm_statistic"] < 0 and b["regression"]["dm_pvalue"] < 0.01
    assert block["realised_breadth"]["same_side"] > 0.6
    assert block["verdict"].startswith("The index carries information about the market")
    assert "no evidence" not in block["verdict"] and "only as a correlation" not in block["verdict"]


def test_noise_is_not_called_a_forecast():
    verdicts = []
    for seed in range(20):
        long, closes = planted(100 + seed, days=300, lead=0.0)
        _, block = build("sentiment/default").evaluate(long, closes)
        verdicts.append("no evidence the index forecasts the market" in block["verdict"])
        if seed == 0:
            assert block["tests"] == 11
            skill = {k: v for k, v in block["pvalues_holm"].items() if not k.endswith("dm_direct")}
            assert len(skill) == 10 and min(skill.values()) > 0.05
            # the noise forecast itself adds its own variance: larger errors than the past mean
            direct = block["signals"]["mean_forecast"]["direct"]
            assert direct["dm_statistic"] > 0 and direct["mse"] > direct["benchmark_mse"]
    assert sum(verdicts) >= 19  # Holm over 11 tests: a false alarm in at most about 1 of 20


def test_index_up_to_t_ignores_everything_after_t():
    long, closes = planted(11, days=120)
    before = sentiment_outcomes(sentiment_index(long), closes)
    t = closes.index[70]
    rng = np.random.default_rng(0)
    later = long["date"] > t
    altered = long.copy()
    altered.loc[later, "forecast"] = rng.normal(0, 0.02, int(later.sum()))
    altered = altered[~(later & (altered["ticker"] == "B"))]  # a ticker vanishes after t
    moved = closes.copy()
    moved.loc[moved.index > t] *= rng.uniform(0.5, 1.5, (int((moved.index > t).sum()), 4))
    after = sentiment_outcomes(sentiment_index(altered), moved)
    known = [*INDEX_COLUMNS, "index_level"]  # outcomes are the future by design: not compared
    pd.testing.assert_frame_equal(before.loc[:t, known], after.loc[:t, known])
    pd.testing.assert_series_equal(regime_scale(before).loc[:t], regime_scale(after).loc[:t])
    assert not before.loc[t:, "mean_forecast"].iloc[1:].equals(after.loc[t:, "mean_forecast"].iloc[1:])


def test_regime_scale_and_settings():
    index = pd.DataFrame({"breadth": [0.4, 0.5, 0.6]}, index=D[:3])
    assert list(regime_scale(index, threshold=0.5, low=0.25)) == [0.25, 1.0, 1.0]
    settings = instantiate(OmegaConf.load(f"{CONF}/sentiment/default.yaml"))
    assert isinstance(settings, SentimentSettings)
    assert settings.scale(index) is None
    on = build("sentiment/default", regime_filter=True, regime_threshold=0.55, regime_low=0.0)
    assert list(on.scale(index)) == [0.0, 0.0, 1.0]
    bounds = bounds_of(SentimentSettings)
    assert set(bounds) == {"enabled", "dead_band", "week", "min_tickers", "regime_filter",
                           "regime_threshold", "regime_low"}
    assert not bounds["dead_band"].accepts(-0.1) and not bounds["week"].accepts(0)
    assert not bounds["regime_low"].accepts(1.5) and bounds["regime_threshold"].accepts(0.0)


def test_too_few_days_says_so():
    table = random_table(5, days=3)
    assert judge_sentiment(table)["verdict"].startswith("Too few days")
    empty = sentiment_outcomes(sentiment_index(hand_long(), min_tickers=5), hand_closes())
    assert empty.empty and judge_sentiment(empty)["days"] == 0


def test_figure_and_section_render(tmp_path):
    long, closes = planted(13, days=150, lead=0.0)
    table, block = build("sentiment/default").evaluate(long, closes)
    write_sentiment_plot(tmp_path / "sentiment.png", table, "AAA <&> universe")
    assert (tmp_path / "sentiment.png").stat().st_size > 10_000
    html = "".join(sentiment_section(block, tmp_path))
    assert esc(block["verdict"]) in html and "no evidence the index forecasts the market" in html
    assert "data:image/png;base64," in html and "Breadth (share forecast to rise)" in html
    assert sentiment_section(None, tmp_path) == [] and sentiment_section({}, tmp_path) == []
