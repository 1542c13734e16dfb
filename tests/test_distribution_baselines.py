"""Distribution baselines on series whose distribution is known, and forecasts that see only the past."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from forecasting.distribution.base import COLUMNS
from forecasting.distribution.baselines import (
    BASELINES,
    EWMA,
    Climatology,
    Garch,
    Historical,
    build_baselines,
    garch_sum_variance,
)
from forecasting.walkforward import SeriesSamples
from forecasting.windows import Windows
from tests.builders import build

HORIZONS = (1, 5, 20)
# GARCH(1,1)-t in arch's units (percent returns): unconditional variance 0.05 / 0.05 = 1 (1% a day).
MU, OMEGA, ALPHA, BETA, NU = 0.02, 0.05, 0.08, 0.87, 6.0


def windows_of(returns: np.ndarray) -> Windows:
    """Windows whose target y[i] is returns[i] (the return from close i to close i + 1); the
    features are the previous return, which no baseline reads."""
    y = np.asarray(returns, dtype=np.float64)
    X = np.concatenate([[0.0], y[:-1]])[:, None, None].astype(np.float32)
    return Windows(X, y.copy(), pd.bdate_range("2005-01-03", periods=len(y)))


def garch_path(n: int, seed: int = 0) -> tuple[Windows, np.ndarray]:
    """A GARCH(1,1) path with unit-variance t(NU) shocks, and each return's true conditional
    variance (percent^2), known at the close before it."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(NU, n) * np.sqrt((NU - 2) / NU)
    variance = np.empty(n)
    returns = np.empty(n)
    v = OMEGA / (1 - ALPHA - BETA)
    for i in range(n):
        variance[i] = v
        returns[i] = MU + np.sqrt(v) * shocks[i]
        v = OMEGA + ALPHA * (returns[i] - MU) ** 2 + BETA * v
    return windows_of(returns / 100), variance


def predict(method, windows: Windows, train_end: int, test_start: int, test_end: int,
            horizons=HORIZONS) -> pd.DataFrame:
    """One fold as the walk-forward runs it: fit on the training samples, then forecast the test
    samples from the returns known before the last test day (targets of samples before it)."""
    method.fit(windows[:train_end], seed=0)
    return method.predict_distribution(windows[test_start:test_end], windows.y[:test_end - 1],
                                       horizons)


def std_of(frame: pd.DataFrame) -> np.ndarray:
    """The t's standard deviation (its scale when df is inf)."""
    df = frame["df"].to_numpy()
    with np.errstate(invalid="ignore"):
        factor = np.where(np.isfinite(df), np.sqrt(df / (df - 2)), 1.0)
    return frame["scale"].to_numpy() * factor


def test_every_baseline_returns_the_frame_base_py_describes():
    windows, _ = garch_path(1200)
    for name, method in build_baselines(list(BASELINES), 250, 0.94).items():
        frame = predict(method, windows, 900, 901, 1000)
        assert list(frame.columns) == list(COLUMNS) and frame.index.name == "date", name
        assert len(frame) == 99 * len(HORIZONS) and frame.notna().all().all(), name
        assert (frame["scale"] > 0).all() and (frame["df"] > 2).all(), name
        for h in HORIZONS:
            assert frame[frame["horizon"] == h].index.equals(windows.index[901:1000]), name


def test_garch_h_step_spread_matches_the_true_models_analytic_variance():
    """Fitted on 2500 returns of a known GARCH(1,1)-t, the h-session forecast's variance is the
    true model's sum of its 1..h step variances from each day's true conditional variance."""
    windows, variance = garch_path(3000, seed=1)
    frame = predict(Garch(), windows, 2500, 2501, 3000)
    truth = garch_sum_variance(variance[2501:3000], OMEGA, ALPHA + BETA, HORIZONS)
    for h in HORIZONS:
        part = frame[frame["horizon"] == h]
        ratio = std_of(part) / (np.sqrt(truth[h]) / 100)
        # Over seeds 3-22 the median |log ratio| was 0.004-0.058 and the correlation 0.97-1.
        assert np.median(np.abs(np.log(ratio))) < 0.1, h
        assert np.corrcoef(std_of(part), np.sqrt(truth[h]))[0, 1] > 0.95, h  # tracks it day by day
        # mu's standard error from 2500 returns of about 1% is 0.02 (percent): 3 of them.
        assert part["mean"].to_numpy() == pytest.approx(h * MU / 100, abs=h * 0.06 / 100)
        assert part["df"].iloc[0] == pytest.approx(NU, rel=0.4)


def test_garch_steps_add_up_as_arch_forecasts_them():
    """The h-session variance is the sum of arch's own 1..h step variance forecasts."""
    from arch import arch_model

    windows, _ = garch_path(600, seed=2)
    fixed = arch_model(100 * windows.y, mean="Constant", vol="GARCH", p=1, q=1, dist="t",
                       rescale=False).fix([MU, OMEGA, ALPHA, BETA, NU])
    steps = fixed.forecast(horizon=20, start=500, reindex=False).variance.to_numpy()
    ours = garch_sum_variance(steps[:, 0], OMEGA, ALPHA + BETA, HORIZONS)
    for h in HORIZONS:
        np.testing.assert_allclose(ours[h], steps[:, :h].sum(axis=1), rtol=1e-12)


def test_ewma_spread_grows_with_the_square_root_of_the_horizon():
    from forecasting.risk.baselines import EWMA as RiskEWMA

    windows, _ = garch_path(1000)
    frame = predict(EWMA(0.94), windows, 700, 701, 900)
    one = frame[frame["horizon"] == 1]
    risk = RiskEWMA(0.94).predict_risk(windows[701:900], windows.y[:899], ())
    np.testing.assert_allclose(one["scale"], risk["volatility"], rtol=1e-12)
    for h in HORIZONS:
        part = frame[frame["horizon"] == h]
        np.testing.assert_allclose(part["scale"], np.sqrt(h) * one["scale"].to_numpy(), rtol=1e-12)
        assert (part["mean"] == 0).all() and np.isinf(part["df"]).all()


def test_historical_spread_on_iid_normal_returns_is_s_sqrt_h():
    s = 0.01
    windows = windows_of(np.random.default_rng(3).normal(0.0, s, 6000))
    frame = predict(Historical(250), windows, 300, 301, 6000)
    for h in HORIZONS:
        part = frame[frame["horizon"] == h]
        # Over seeds 3-22: 0.90-1.03 x s sqrt(h), about 0.96 at h = 20, where 250 overlapping
        # sums hold about 12 independent ones and their sample variance runs low (~ 1 - h/250).
        assert np.mean(std_of(part)) == pytest.approx(s * np.sqrt(h), rel=0.12), h
        # Normal data: the moment fit's df is mostly inf (60-73% of days) or large, so the scale
        # stays near the std (medians 0.87-1.03 x s sqrt(h) over those seeds).
        assert np.median(part["scale"]) == pytest.approx(s * np.sqrt(h), rel=0.16), h


def test_historical_fits_the_last_window_of_h_session_returns_by_moments():
    """Day k's sample is exactly the `window` h-session sums that end by its close."""
    windows, _ = garch_path(800, seed=4)
    frame = predict(Historical(100), windows, 400, 401, 500, horizons=(5,))
    y = windows.y
    for k in (0, 37, 98):
        day = 401 + k  # test day k may use y[:day]
        sums = np.array([y[i:i + 5].sum() for i in range(day - 5 - 99, day - 5 + 1)])
        row = frame.iloc[k]
        assert row["mean"] == pytest.approx(sums.mean(), rel=1e-9)
        assert std_of(frame.iloc[[k]])[0] == pytest.approx(sums.std(ddof=1), rel=1e-9)
        kurtosis = pd.Series(sums).kurt()
        assert row["df"] == (pytest.approx(4 + 6 / kurtosis) if kurtosis > 0 else np.inf)


def test_climatology_is_constant_within_a_fold_and_refit_on_the_next():
    windows, _ = garch_path(1500, seed=5)
    method = Climatology()
    first = predict(method, windows, 800, 801, 1000)
    second = predict(method, windows, 1000, 1001, 1200)
    for h in HORIZONS:
        a, b = first[first["horizon"] == h], second[second["horizon"] == h]
        for column in ("mean", "scale", "df"):
            assert a[column].nunique() == 1 and b[column].nunique() == 1, (h, column)
        assert a["scale"].iloc[0] != b["scale"].iloc[0]
        sums = pd.Series(windows.y[:800]).rolling(h).sum().dropna()
        assert a["mean"].iloc[0] == pytest.approx(sums.mean(), rel=1e-9)
        assert std_of(a.iloc[[0]])[0] == pytest.approx(sums.std(), rel=1e-9)


@dataclass
class DistributionModel:
    """A baseline as the walk-forward loop's model, as forecasting/risk/walkforward.py RiskModel
    hands returns to a risk method: those known up to the fold's last test day's close."""

    method: object
    windows: Windows

    @property
    def uses_validation(self) -> bool:
        return False

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> DistributionModel:
        self.method.fit(train, seed=seed, warm_start=warm_start, validation=validation)
        return self

    def predict(self, test: Windows) -> pd.DataFrame:
        end = int(self.windows.index.searchsorted(test.index[-1])) + 1
        return self.method.predict_distribution(test, self.windows.y[:end - 1], HORIZONS)


def walk(windows: Windows, until: pd.Timestamp) -> dict[str, pd.DataFrame]:
    walkforward = build("walkforward/default", initial_train=600, retrain_every=150)
    models = {name: DistributionModel(method, windows)
              for name, method in build_baselines(list(BASELINES), 250, 0.94).items()}
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in models}
    for out in walkforward.drive(SeriesSamples(windows), models, seed=0, until=until,
                                 progress=False):
        for name, frame in out.predictions.items():
            parts[name].append(frame)
    return {name: pd.concat(frames) for name, frames in parts.items()}


def test_no_forecast_changes_when_later_returns_do():
    """Every method, over several warm-started folds: a forecast at the close of sample p uses
    returns up to y[p - 1] (known at that close); making y[p:] five times as volatile changes
    nothing up to p, and (the test has teeth) the forecasts after p of those that roll daily."""
    original, _ = garch_path(1400, seed=6)
    p = 1000
    y = original.y.copy()
    y[p:] *= 5
    altered = Windows(original.X, y, original.index)
    until = original.index[p + 60]
    before, after = walk(original, until), walk(altered, until)
    cutoff = original.index[p]
    for name in BASELINES:
        assert before[name].index.min() < original.index[700], name  # several folds before p
        known_b = before[name][before[name].index <= cutoff]
        known_a = after[name][after[name].index <= cutoff]
        assert len(known_b) == len(known_a) > 0, name
        pd.testing.assert_frame_equal(known_b, known_a, obj=name)
    for name in ("historical", "ewma", "garch"):
        later = before[name].index > cutoff
        assert (std_of(after[name][later]) != std_of(before[name][later])).all(), name


def test_build_baselines_makes_fresh_objects_by_name_and_refuses_unknown_ones():
    from backtests.settings.bounds import bounds_of

    made = build_baselines(["garch", "historical"], historical_window=60, ewma_lambda=0.9)
    assert list(made) == ["garch", "historical"] and made["historical"].window == 60
    assert build_baselines(["ewma"], 250, ewma_lambda=0.9)["ewma"].lam == 0.9
    assert build_baselines(["garch"], 250, 0.94)["garch"] is not made["garch"]
    with pytest.raises(ValueError, match="unknown distribution baseline"):
        build_baselines(["ewma", "lstm"], 250, 0.94)
    assert bounds_of(Historical)["window"].accepts(250) and not bounds_of(Historical)["window"].accepts(1)
    assert not bounds_of(EWMA)["lam"].accepts(1.0)
    assert bounds_of(Garch) == {} and bounds_of(Climatology) == {}


def test_an_unconverged_garch_fit_keeps_the_previous_folds_parameters(monkeypatch):
    from arch.univariate.base import ARCHModel

    from forecasting.risk.base import FIT_OK, FIT_PREVIOUS

    windows, _ = garch_path(1500, seed=7)
    garch = Garch().fit(windows[:1000])
    assert garch.fit_status == FIT_OK
    converged = garch.model.params.copy()
    original = ARCHModel.fit
    monkeypatch.setattr(ARCHModel, "fit", lambda self, *a, **k: original(
        self, *a, **{**k, "options": {"maxiter": 1}}))
    garch.fit(windows[:1250], warm_start=True)
    assert garch.fit_status == FIT_PREVIOUS
    pd.testing.assert_series_equal(garch.model.params, converged)


def test_a_warm_garch_fit_starts_from_the_previous_folds_parameters(monkeypatch):
    """The speed lever: a warm fold hands arch the previous fold's estimate as starting values."""
    from arch.univariate.base import ARCHModel

    windows, _ = garch_path(1300, seed=8)
    garch = Garch().fit(windows[:1000])
    previous = garch.model.params.to_numpy().copy()
    starts = []
    original = ARCHModel.fit
    monkeypatch.setattr(ARCHModel, "fit", lambda self, *a, **k: (
        starts.append(k.get("starting_values")), original(self, *a, **k))[1])
    garch.fit(windows[:1021], warm_start=True)
    garch.fit(windows[:1042], warm_start=False)
    np.testing.assert_array_equal(starts[0], previous)
    assert starts[1] is None
