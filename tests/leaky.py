"""A deliberately leaky feature, for proving that the look-ahead audit catches leaks."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from strategies.portfolio.selection import side_weights, top_k
from strategies.portfolio.topk import TopK


@dataclass
class CenteredMean:
    """Close over its centred rolling mean: the mean at t includes closes after t (look-ahead).

    `min_periods=1` fills the last bars too, so no NaN gives the leak away: only the audit can.
    """

    window: int = 5
    min_periods: int = 1

    def __call__(self, bars: pd.DataFrame) -> pd.Series:
        mean = bars["Close"].rolling(self.window, center=True, min_periods=self.min_periods).mean()
        return bars["Close"] / mean - 1


class FoldVolatility:
    """A risk method that scales by the realised volatility of its whole test fold (look-ahead).

    A classic slip: the test windows carry their targets, and this reads them. Each day's VaR then
    depends on returns after it, which only the audit can see.
    """

    uses_validation = False

    def fit(self, train, seed=0, warm_start=False, validation=None):
        return self

    def predict_risk(self, test, returns, levels):
        import numpy as np

        from forecasting.risk.base import risk_frame
        from forecasting.risk.distributions import normal_var_es

        sigma = np.full(len(test), np.nanstd(test.y))
        return risk_frame(test, sigma, {level: normal_var_es(np.zeros_like(sigma), sigma, level)
                                        for level in levels})


@dataclass
class NextDayMarketReturn:
    """A leaky market-wide input: the universe's equal-weight return of the NEXT day (the last day
    gets 0, so no NaN gives it away). Only the universe audit can catch it."""

    def __call__(self, closes: pd.DataFrame) -> pd.Series:
        from forecasting.universe.market import EqualWeightReturn

        return EqualWeightReturn()(closes).shift(-1).fillna(0.0)


class PeekingTopK(TopK):
    """A portfolio strategy that ranks on the NEXT bar's close change (a one-day look-ahead).

    Its decision at a close shows in the holdings only at the next close, so only an audit that
    compares the decisions themselves, by the close they were made at, catches it.
    """

    def weights(self, scores: dict[str, float], held: dict[str, float]) -> dict[str, float]:
        feeds = self.feeds
        peek = {n: (float(feeds[n].close[1] / feeds[n].close[0] - 1)
                    if len(feeds[n]) < feeds[n].buflen() else 0.0) for n in scores}
        return side_weights(top_k(peek, int(self.p.k)), 1.0)


class PeekingDistribution:
    """A distribution baseline centred on the day's own outcome: it reads the test windows'
    targets (the next day's return), which only the audit can see."""

    uses_validation = False

    def fit(self, train, seed=0, warm_start=False, validation=None):
        return self

    def predict_distribution(self, test, returns, horizons):
        import numpy as np

        from forecasting.distribution.base import distribution_frame

        ahead = np.nan_to_num(test.y)  # the next day's return: known only a day later
        return distribution_frame(test.index, {h: (ahead, np.full(len(test), 0.01), np.inf)
                                               for h in horizons})
