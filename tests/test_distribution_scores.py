"""Distribution scores: known answers on seeded Gaussian markets, and every reported figure
recomputed independently (scoringrules, scipy, statsmodels) from the frame alone."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scoringrules
from scipy import stats
from statsmodels.stats.sandwich_covariance import S_hac_simple

from forecasting.distribution.base import horizon_returns
from forecasting.distribution.calibration import (
    climatological_p_up,
    expanding_up_share,
    with_climatology,
)
from forecasting.distribution.hac import coverage_test, diebold_mariano, hac_lag, long_run_variance
from forecasting.distribution.scores import score_distributions

MU, SIGMA = 0.0003, 0.01
Z90 = stats.norm.ppf(0.95)


def _market(n: int, seed: int, history: int = 0) -> tuple[pd.Series, pd.DatetimeIndex]:
    """i.i.d. Gaussian daily log returns (the return of each session from the previous close);
    the frame's dates are the last n sessions but the final 21 (their targets run past)."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2010-01-01", periods=history + n + 21)
    daily = pd.Series(rng.normal(MU, SIGMA, len(days)), index=days)
    return daily, days[history: history + n]


def _frame(daily: pd.Series, dates: pd.DatetimeIndex, methods: dict[str, tuple[float, float]],
           horizons=(1,), unknown: int = 0) -> pd.DataFrame:
    """A distribution.csv-like frame: each method a Gaussian (df inf) or Student-t around the true
    mean, its scale `width` times the true one; the last `unknown` targets not realised yet."""
    parts = []
    start = daily.index.get_indexer(dates)
    for h in horizons:
        # the target dated t runs from its close to the close of t + h: daily[t + 1 .. t + h]
        realised = horizon_returns(daily.to_numpy()[1:], h)[start]
        if unknown:
            realised[-unknown:] = np.nan
        for method, (width, df) in methods.items():
            # a Student-t with the true variance has scale sigma * sqrt((df - 2) / df)
            shrink = 1.0 if math.isinf(df) else math.sqrt((df - 2) / df)
            parts.append(pd.DataFrame({"date": dates, "horizon": h, "method": method,
                                       "mean": MU * h, "scale": width * shrink * SIGMA * math.sqrt(h),
                                       "df": df, "realised": realised}))
    return pd.concat(parts, ignore_index=True)


def test_the_true_gaussian_covers_nominally_and_its_pit_is_uniform():
    daily, dates = _market(2000, seed=3)
    out = score_distributions(_frame(daily, dates, {"lstm": (1, math.inf)}, horizons=(1, 5)))
    for key in ("h1", "h5"):
        scores = out[key]["methods"]["lstm"]
        for name, nominal in (("50", 0.5), ("90", 0.9)):
            assert abs(scores["coverage"][name]["rate"] - nominal) < 0.03
            assert scores["coverage"][name]["p"] > 0.05
        assert scores["pit"]["p"] > 0.05
    assert out["h5"]["methods"]["lstm"]["pit"]["n"] == 400  # every 5th row: no overlap


def test_a_distribution_twice_too_wide_covers_too_often_is_rejected_and_loses_on_crps():
    daily, dates = _market(2000, seed=4)
    frame = _frame(daily, dates, {"lstm": (2, math.inf), "truth": (1, math.inf)}, horizons=(1, 5))
    out = score_distributions(frame)
    for key in ("h1", "h5"):
        wide, truth = out[key]["methods"]["lstm"], out[key]["methods"]["truth"]
        assert wide["coverage"]["90"]["rate"] > 0.97 and wide["coverage"]["90"]["p"] < 1e-6
        assert wide["coverage"]["50"]["rate"] > 0.75 and wide["coverage"]["50"]["p"] < 1e-6
        assert wide["pit"]["p"] < 0.01
        assert truth["crps"] < wide["crps"]
        assert out[key]["comparison"]["best_baseline"] == "truth"
        assert out[key]["comparison"]["dm_pvalue"] < 0.01
        assert "significantly worse" in out[key]["verdict"] and "too wide" in out[key]["verdict"]


def test_dm_on_identical_losses_finds_no_difference():
    daily, dates = _market(500, seed=5)
    out = score_distributions(_frame(daily, dates, {"lstm": (1.2, 6.0), "garch": (1.2, 6.0)}))
    comparison = out["h1"]["comparison"]
    assert (comparison["dm_statistic"], comparison["dm_pvalue"], comparison["crps_ratio"]) == (0.0, 1.0, 1.0)
    assert "no difference" in out["h1"]["verdict"]
    assert diebold_mariano(np.zeros(10), lag=3) == (0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_calibrated_p_up_on_iid_noise_has_no_skill_over_climatology(seed):
    daily, dates = _market(1500, seed=seed, history=1000)
    frame = _frame(daily, dates, {"lstm": (1, math.inf)}, horizons=(1, 5))
    out = score_distributions(with_climatology(frame, daily))  # known at t, training days too
    assert out["h1"]["climatology"] == "the p_up_climatology column"
    for h in (1, 5):
        key, scores = f"h{h}", out[f"h{h}"]["methods"]["lstm"]
        assert abs(scores["brier_skill"]) < 0.02 and scores["brier_dm_pvalue"] > 0.05
        assert out[key]["verdict"].endswith("no skill in direction.")
        table = [row for row in scores["reliability"] if row["count"]]
        assert sum(row["count"] for row in table) == scores["n"]
        for row in table:  # calibrated: the observed share of rises is within 3 (overlap) s.e.
            assert abs(row["observed"] - row["mean_forecast"]) < 3 * math.sqrt(0.25 * h / row["count"])


def test_every_figure_recomputes_from_the_csv_alone(tmp_path):
    daily, dates = _market(300, seed=7)
    methods = {"lstm": (1.1, 5.0), "garch": (1.0, math.inf), "historical": (1.4, math.inf)}
    frame = _frame(daily, dates, methods, horizons=(1, 5), unknown=5)
    frame.loc[(frame["method"] == "lstm"), "mean"] += 0.002  # a biased model, to score something
    frame.to_csv(tmp_path / "distribution.csv", index=False)
    csv = pd.read_csv(tmp_path / "distribution.csv", parse_dates=["date"])
    out = score_distributions(csv)
    for h in (1, 5):
        block, part = out[f"h{h}"], csv[csv["horizon"] == h]
        truth = part.drop_duplicates("date").set_index("date")["realised"].sort_index()
        seen = [truth.to_numpy()[: max(i - h + 1, 0)] for i in range(len(truth))]  # ended by i
        share = np.array([(1 + np.sum(r > 0)) / (2 + np.sum(~np.isnan(r))) for r in seen])
        known = truth.notna().to_numpy()
        lag = block["hac_lag"]
        assert block["n"] == 300 - 5 and lag == hac_lag(295, h)
        crps = {}
        for method in methods:
            rows = part[part["method"] == method].set_index("date").sort_index()[known]
            y, m, s, df = (rows[c].to_numpy() for c in ("realised", "mean", "scale", "df"))
            got = block["methods"][method]
            crps[method] = (scoringrules.crps_t(y, df, m, s) if np.isfinite(df[0])
                            else scoringrules.crps_normal(y, m, s))
            assert got["crps"] == pytest.approx(crps[method].mean(), rel=1e-12)
            q = {lv: stats.t.ppf(lv, df, loc=m, scale=s) for lv in (0.05, 0.25, 0.5, 0.75, 0.95)}
            for lv, name in zip(q, ("q05", "q25", "q50", "q75", "q95"), strict=True):
                loss = np.where(y >= q[lv], lv * (y - q[lv]), (1 - lv) * (q[lv] - y))
                assert got["pinball"][name] == pytest.approx(loss.mean(), rel=1e-12)
            for name, (lo, hi) in (("50", (0.25, 0.75)), ("90", (0.05, 0.95))):
                hits = ((y >= q[lo]) & (y <= q[hi])).astype(float)
                nominal = hi - lo
                z = (hits.mean() - nominal) / math.sqrt(S_hac_simple(hits - nominal, lag)[0, 0]
                                                        / len(hits) ** 2)
                assert got["coverage"][name]["rate"] == pytest.approx(hits.mean(), abs=0)
                assert got["coverage"][name]["z"] == pytest.approx(z, rel=1e-9)
                assert got["coverage"][name]["p"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
            u = stats.t.cdf((y - m) / s, df)
            assert got["pit"]["p"] == pytest.approx(stats.kstest(u[::h], "uniform").pvalue, rel=1e-9)
            assert got["pit"]["histogram"] == np.histogram(u, bins=10, range=(0, 1))[0].tolist()
            prob, up, clim = stats.t.sf(-m / s, df), (y > 0).astype(float), share[known]
            assert got["brier"] == pytest.approx(np.mean((prob - up) ** 2), rel=1e-12)
            assert got["brier_climatology"] == pytest.approx(np.mean((clim - up) ** 2), rel=1e-12)
            assert got["brier_skill"] == pytest.approx(
                1 - np.mean((prob - up) ** 2) / np.mean((clim - up) ** 2), rel=1e-9)
            b = (prob - up) ** 2 - (clim - up) ** 2
            b_stat = b.mean() / math.sqrt(S_hac_simple(b - b.mean(), lag)[0, 0] / len(b) ** 2)
            assert got["brier_dm_statistic"] == pytest.approx(b_stat, rel=1e-9)
            assert got["brier_dm_pvalue"] == pytest.approx(2 * stats.t.sf(abs(b_stat), len(b) - 1), rel=1e-9)
            which = np.minimum((prob * 10).astype(int), 9)
            for k, row in enumerate(got["reliability"]):
                assert row["count"] == int(np.sum(which == k))
                if row["count"]:
                    assert row["mean_forecast"] == pytest.approx(prob[which == k].mean(), rel=1e-12)
                    assert row["observed"] == pytest.approx(up[which == k].mean(), rel=1e-12)
        best = min(("garch", "historical"), key=lambda b: crps[b].mean())
        d = crps["lstm"] - crps[best]
        stat = d.mean() / math.sqrt(S_hac_simple(d - d.mean(), lag)[0, 0] / len(d) ** 2)
        assert block["comparison"]["best_baseline"] == best
        assert block["comparison"]["dm_statistic"] == pytest.approx(stat, rel=1e-9)
        assert block["comparison"]["dm_pvalue"] == pytest.approx(
            2 * stats.t.sf(abs(stat), len(d) - 1), rel=1e-9)
    assert json.loads(json.dumps(out))["h5"]["n"] == 295  # JSON-safe: built-in types only


def test_the_hac_variance_is_newey_wests():
    x = np.random.default_rng(0).normal(size=200).cumsum() % 3
    assert long_run_variance(x, 6) == pytest.approx(S_hac_simple(x - x.mean(), 6)[0, 0] / 200)
    assert long_run_variance(x, 6, centre=1.0) == pytest.approx(S_hac_simple(x - 1.0, 6)[0, 0] / 200)


def test_the_coverage_test_respects_overlapping_targets():
    """A perfect 5-session forecast: an i.i.d. variance rejects far too often, the HAC one near 5%."""
    rng = np.random.default_rng(11)
    h, n, reps = 5, 500, 150
    rejected = {"hac": 0, "iid": 0}
    for _ in range(reps):
        target = np.convolve(rng.standard_normal(n + h), np.ones(h), "valid")[:n] / math.sqrt(h)
        hits = (np.abs(target) <= Z90).astype(float)
        rejected["hac"] += coverage_test(hits, 0.9, hac_lag(n, h))[1] < 0.05
        rejected["iid"] += coverage_test(hits, 0.9, 0)[1] < 0.05
    assert rejected["hac"] / reps < 0.12 and rejected["iid"] / reps > 0.2


def test_the_dm_test_respects_overlapping_targets():
    """Two equally good 5-session forecasts whose errors persist over the overlap: an i.i.d.
    variance finds a difference far too often, the HAC one near the 5% it promises."""
    rng = np.random.default_rng(5)
    h, n, reps = 5, 500, 100
    smooth = lambda: np.convolve(rng.standard_normal(n + h), np.ones(h), "valid")[:n]
    rejected = {"hac": 0, "iid": 0}
    for _ in range(reps):
        target = smooth()
        d = (scoringrules.crps_normal(target, 0.3 * smooth(), math.sqrt(h))
             - scoringrules.crps_normal(target, 0.3 * smooth(), math.sqrt(h)))
        rejected["hac"] += diebold_mariano(d, hac_lag(n, h))[1] < 0.05
        rejected["iid"] += diebold_mariano(d, 0)[1] < 0.05
    assert rejected["hac"] / reps < 0.12 and rejected["iid"] / reps > 0.15


def test_the_climatology_uses_only_targets_known_at_the_time():
    realised = np.random.default_rng(2).normal(size=60)
    h, s = 5, 30
    flipped = realised.copy()
    flipped[s] = -flipped[s]  # a target that starts at s is known from the close of s + h
    before, after = expanding_up_share(realised, h), expanding_up_share(flipped, h)
    assert np.array_equal(before[: s + h], after[: s + h]) and before[s + h] != after[s + h]
    assert before[0] == 0.5
    daily = pd.Series(np.random.default_rng(3).normal(size=80), pd.bdate_range("2020-01-01", periods=80))
    daily.iloc[0] = np.nan  # the return into the first close: no target from a close ends with it
    starting = horizon_returns(daily.to_numpy()[1:], h)  # the target from each close
    from_history = climatological_p_up(daily, daily.index, h).to_numpy()
    assert np.allclose(from_history[:70], expanding_up_share(starting, h)[:70])
    later = daily.copy()
    later.iloc[41:] = -later.iloc[41:]  # the future from the close of day 40 on
    assert np.array_equal(climatological_p_up(later, daily.index, h).to_numpy()[:41], from_history[:41])


def test_unrealised_rows_are_skipped_and_a_missing_forecast_drops_the_date_for_every_method():
    daily, dates = _market(200, seed=8)
    frame = _frame(daily, dates, {"lstm": (1, math.inf), "ewma": (1.3, math.inf)}, unknown=3)
    frame.loc[(frame["method"] == "ewma") & (frame["date"] == dates[10]), ["mean", "scale"]] = np.nan
    block = score_distributions(frame)["h1"]
    assert (block["n"], block["dropped"]) == (196, 1)
    assert {m: s["n"] for m, s in block["methods"].items()} == {"lstm": 196, "ewma": 196}


def test_without_the_model_the_verdict_names_the_best_baseline():
    daily, dates = _market(300, seed=9)
    frame = _frame(daily, dates, {"garch": (1, math.inf), "ewma": (1.5, math.inf)})
    out = score_distributions(frame, labels={"garch": "GARCH-t"})
    assert "comparison" not in out["h1"]
    assert out["h1"]["verdict"].startswith("1-session: no lstm forecast; GARCH-t has the lowest CRPS")
    assert "GARCH-t's 90% interval covers" in out["h1"]["verdict"]


def test_the_model_alone_a_method_without_forecasts_and_dates_as_the_index():
    daily, dates = _market(300, seed=10)
    frame = _frame(daily, dates, {"lstm": (1, math.inf), "garch": (1, math.inf)}, horizons=(1, 20))
    frame.loc[frame["method"] == "garch", ["mean", "scale", "df"]] = np.nan  # a failed baseline
    frame.loc[frame["horizon"] == 20, "realised"] = np.nan  # no 20-session target realised yet
    out = score_distributions(frame.set_index("date"))
    assert list(out["h1"]["methods"]) == ["lstm"] and out["h1"]["unscored"] == ["garch"]
    assert "with no baseline to compare" in out["h1"]["verdict"]
    assert out["h20"]["n"] == 0 and out["h20"]["verdict"].startswith("20-session: nothing to score")


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns="realised"), "lacks column(s) realised"),
    (lambda f: f.assign(df=1.0), "df <= 1"),
    (lambda f: f.assign(scale=0.0), "scale <= 0"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "more than one row"),
    (lambda f: f.assign(realised=np.where(f["method"] == "lstm", f["realised"], f["realised"] + 1)),
     "realised return differs"),
])
def test_a_malformed_frame_is_refused_with_the_problem_named(change, message):
    daily, dates = _market(50, seed=1)
    frame = _frame(daily, dates, {"lstm": (1, math.inf), "garch": (1, math.inf)})
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score_distributions(change(frame))
