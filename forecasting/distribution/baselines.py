"""The distribution baselines a network must beat: historical, EWMA, GARCH(1,1)-t, climatology.

Every method follows forecasting/distribution/base.py: `fit` sees the fold's training windows
only; `predict_distribution(test, returns, horizons)` gets the daily returns known before the
fold's last test day and forecasts test day k from `returns[:first + k]` (forecasting/risk/base.py
`first_test_position`), i.e. from returns up to the close of that day. An h-session return built
from those (`horizon_returns`) ends at the latest at that close, so none reads the future.

Each forecast is a location-scale Student-t (df = inf: Gaussian). Where a sample of h-session
returns is summarised (historical, climatology), the t is fitted by moments: its mean and standard
deviation are the sample's, and df = 4 + 6 / excess kurtosis (the t's own kurtosis; inf when the
sample's is not above the normal's). Moments rather than maximum likelihood: closed form and
instant for thousands of days x horizons, the forecast's spread is exactly the sample's, and df > 4
always keeps the variance finite; 250 overlapping h-session sums hold too little tail to justify
more.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from forecasting.distribution.base import DistributionMethod, distribution_frame, horizon_returns
from forecasting.risk.base import FIT_OK, PastOnly, first_test_position
from forecasting.risk.baselines import EWMA as RiskEWMA
from forecasting.risk.baselines import GarchT as RiskGarchT
from forecasting.windows import Windows

BASELINES = ("historical", "ewma", "garch", "climatology")

_Distributions = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | float]]


def moments_t(mean: np.ndarray, std: np.ndarray, excess_kurtosis: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The t (mean, scale, df) with the given mean, standard deviation and excess kurtosis.

    A t's excess kurtosis is 6 / (df - 4); a sample not above the normal's (or too short to
    tell: NaN) gets df = inf, and then its scale is its standard deviation.
    """
    kurtosis = np.asarray(excess_kurtosis, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(kurtosis > 0, 4.0 + 6.0 / kurtosis, np.inf)
        factor = np.where(np.isfinite(df), np.sqrt((df - 2.0) / df), 1.0)
    return np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64) * factor, df


class Historical(PastOnly):
    """The last `window` h-session returns known at each close, fitted by moments, rolled daily.

    The sample at test day t is the `window` overlapping h-session returns ending at t-window+1 .. t
    (built from the last window + h - 1 daily returns). Nothing is fitted on the training window.
    Left uncorrected: overlapping sums' sample variance runs low, by about h / window on i.i.d.
    returns (8% at h = 20: the spread about 4% narrow), a bias that is the method's own.
    """

    bounds = {"window": "int >= 2"}

    def __init__(self, window: int) -> None:  # conf/distribution holds the default
        self.window = window

    def predict_distribution(self, test: Windows, returns: np.ndarray,
                             horizons: Sequence[int]) -> pd.DataFrame:
        first = first_test_position(test, returns)
        days = np.arange(first, first + len(test))  # test day k may use returns[:days[k]]
        by_horizon: _Distributions = {}
        for h in horizons:
            # sums[i] = returns[i] + ... + returns[i + h - 1]: known once returns[:i + h] are.
            rolling = pd.Series(horizon_returns(returns, h)).rolling(self.window, min_periods=2)
            last = days - h  # the last sum inside returns[:day]; none yet when negative
            picked = np.clip(last, 0, None)
            stats = [np.where(last >= 0, s.to_numpy()[picked], np.nan)
                     for s in (rolling.mean(), rolling.std(), rolling.kurt())]
            by_horizon[h] = moments_t(*stats)
        return distribution_frame(test.index, by_horizon)


class EWMA(PastOnly):
    """RiskMetrics: the risk EWMA's one-day volatility (lambda 0.94), zero mean, normal, and a
    random walk's square-root-of-time spread: scale sigma_1 * sqrt(h)."""

    bounds = {"lam": "0 < number < 1"}

    def __init__(self, lam: float) -> None:  # conf/distribution holds the default
        self.lam = lam

    def predict_distribution(self, test: Windows, returns: np.ndarray,
                             horizons: Sequence[int]) -> pd.DataFrame:
        sigma = RiskEWMA(self.lam).predict_risk(test, returns, ())["volatility"].to_numpy()
        return distribution_frame(test.index, {h: (np.zeros_like(sigma), sigma * np.sqrt(h), np.inf)
                                               for h in horizons})


def garch_sum_variance(one_step: np.ndarray, omega: float, persistence: float,
                       horizons: Sequence[int]) -> dict[int, np.ndarray]:
    """Variance of the h-session sum of GARCH(1,1) returns for each horizon: the sum of the 1..h
    step variance forecasts, v_1 = one_step and v_j = omega + (alpha + beta) v_(j-1) (what arch's
    forecast(horizon=h) gives per step). The steps' shocks are uncorrelated, so variances add."""
    step = np.asarray(one_step, dtype=np.float64)
    total = np.zeros_like(step)
    out: dict[int, np.ndarray] = {}
    for j in range(1, max(horizons, default=0) + 1):
        total = total + step
        if j in horizons:
            out[j] = total.copy()
        step = omega + persistence * step
    return out


class Garch:
    """GARCH(1,1) with a constant mean and Student-t innovations, fitted by `arch` on each fold.

    The fit is the risk GARCH's (forecasting/risk/baselines.py GarchT): the fold's training
    returns only, warm-started from the previous fold's parameters when the walk-forward says so,
    a failed or unconverged fit never used silently (`fit_status`). Its one-step variance recursion
    runs through the returns known by each test day; the h-session return then has mean h * mu and
    the variance of the sum of the 1..h step forecasts. df stays the fit's nu at every horizon: a
    simplification (a sum of t shocks has thinner tails than one; GARCH's own clustering fattens
    them again), kept because it is the fitted model's and honest about what was estimated.
    """

    uses_validation = False
    bounds: dict[str, str] = {}

    def __init__(self) -> None:
        self.model = RiskGarchT()

    @property
    def fit_status(self) -> int:
        return self.model.fit_status

    def fit(self, train: Windows, seed: int = 0, warm_start: bool = False,
            validation: Windows | None = None) -> Garch:
        self.model.fit(train, seed=seed, warm_start=warm_start, validation=validation)
        return self

    def predict_distribution(self, test: Windows, returns: np.ndarray,
                             horizons: Sequence[int]) -> pd.DataFrame:
        if self.model.params is None:
            raise RuntimeError("Garch.predict_distribution called before fit")
        mu, omega, alpha, beta, nu = (float(v) for v in self.model.params.to_numpy())
        sigma = self.model.predict_risk(test, returns, ())["volatility"].to_numpy()
        one_step = (100 * sigma) ** 2  # arch's units: percent returns
        std_to_scale = np.sqrt((nu - 2) / nu)  # arch's t has unit variance; base.py's scale is s
        by_horizon: _Distributions = {
            h: (np.full_like(sigma, h * mu / 100), np.sqrt(variance) / 100 * std_to_scale, nu)
            for h, variance in garch_sum_variance(one_step, omega, alpha + beta, horizons).items()}
        return distribution_frame(test.index, by_horizon)


class Climatology:
    """The training window's h-session returns, fitted by moments once per fold: the same
    distribution on every test day of the fold, whatever happened since (the no-skill reference)."""

    uses_validation = False
    fit_status = FIT_OK
    bounds: dict[str, str] = {}

    def __init__(self) -> None:
        self.train_returns: np.ndarray | None = None

    def fit(self, train: Windows, seed: int = 0, warm_start: bool = False,
            validation: Windows | None = None) -> Climatology:
        self.train_returns = np.asarray(train.labelled.y, dtype=np.float64)
        return self

    def predict_distribution(self, test: Windows, returns: np.ndarray,
                             horizons: Sequence[int]) -> pd.DataFrame:
        if self.train_returns is None:
            raise RuntimeError("Climatology.predict_distribution called before fit")
        by_horizon: _Distributions = {}
        for h in horizons:
            sums = pd.Series(horizon_returns(self.train_returns, h)).dropna()
            mean, scale, df = moments_t(np.asarray(sums.mean()), np.asarray(sums.std()),
                                        np.asarray(sums.kurt()))
            by_horizon[h] = (np.full(len(test), mean), np.full(len(test), scale), float(df))
        return distribution_frame(test.index, by_horizon)


def build_baselines(names: Sequence[str], historical_window: int,
                    ewma_lambda: float) -> dict[str, DistributionMethod]:
    """Fresh baseline objects by name (BASELINES), in the order given."""
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise ValueError(f"unknown distribution baseline(s) {unknown}; known: {list(BASELINES)}")
    makers: dict[str, Callable[[], DistributionMethod]] = {
        "historical": lambda: Historical(historical_window), "ewma": lambda: EWMA(ewma_lambda),
        "garch": Garch, "climatology": Climatology}
    return {name: makers[name]() for name in names}
