"""The `lstm` risk method of a distribution forecaster: its 1-session distribution, no second network.

With forecaster=lstm_dist one network per fold forecasts every horizon's Student-t
(forecasting/distribution/lstm.py), its tails fitted to the held-out tail's standardised
residuals and its 1-session scale updated day by day by the network's recent residuals
(forecasting/distribution/updating.py). The risk forecasts are that 1-session distribution's, the
very rows of distribution.csv at h = 1 (its q05 is minus the 95% VaR): volatility its standard deviation,
VaR and ES its quantile and tail mean, so a run trains one network instead of two. Each day's row
was made at that day's close by the fold's network (the forecasts' own walk-forward).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.risk.base import PastOnly, risk_frame
from forecasting.risk.distributions import normal_var_es, student_t_var_es
from forecasting.windows import Windows


class DistributionRisk(PastOnly):
    """Risk forecasts read from a distribution forecaster's mean_h1, scale_h1, df_h1 columns."""

    def __init__(self, forecasts: pd.DataFrame) -> None:
        self.forecasts = forecasts

    def predict_risk(self, test: Windows, returns: np.ndarray, levels: Sequence[float]) -> pd.DataFrame:
        rows = self.forecasts.reindex(test.index)
        mean = rows["mean_h1"].to_numpy(dtype=np.float64)
        scale = rows["scale_h1"].to_numpy(dtype=np.float64)
        df = rows["df_h1"].to_numpy(dtype=np.float64)
        gaussian = ~np.isfinite(df)
        nu = np.where(gaussian, 1e9, df)
        sigma = np.where(gaussian, scale, scale * np.sqrt(nu / (nu - 2.0)))
        by_level = {}
        for level in levels:
            var, es = np.empty(len(test)), np.empty(len(test))
            for one in np.unique(nu):  # a fold's rows share one df
                at = nu == one
                found = (normal_var_es(mean[at], sigma[at], level) if one >= 1e9
                         else student_t_var_es(mean[at], sigma[at], float(one), level))
                var[at], es[at] = found
            by_level[level] = (var, es)
        return risk_frame(test, sigma, by_level)
