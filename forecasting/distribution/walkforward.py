"""Forecast distributions through the one walk-forward loop: the baselines refit on the forecasts'
own folds, and the long table every distribution output is read from.

The model's distributions come from its forecasts (the distribution forecaster's columns beside
them, forecasting/distribution/lstm.py); the baselines are DistributionMethods driven by
`WalkForward.drive` over the same windows and `lead`, so every method forecasts the same days.
A test day's forecast sees the daily returns up to its own close and nothing later.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.distribution.base import DistributionMethod, horizon_returns
from forecasting.incremental import Incremental
from forecasting.walkforward import SeriesSamples, WalkForward
from forecasting.windows import Windows

log = logging.getLogger(__name__)

MODEL = "lstm"  # the method name of the network's own distributions in the long table


@dataclass
class DistributionModel:
    """A distribution method as the loop's model: forecasts from the returns known by then."""

    method: DistributionMethod
    windows: Windows
    horizons: Sequence[int]

    @property
    def uses_validation(self) -> bool:
        return bool(getattr(self.method, "uses_validation", False))

    def fit(self, train: Windows, seed: int, warm_start: bool = False,
            validation: Windows | None = None) -> DistributionModel:
        self.method.fit(train, seed=seed, warm_start=warm_start, validation=validation)
        return self

    def predict(self, test: Windows) -> pd.DataFrame:
        end = int(self.windows.index.searchsorted(test.index[-1])) + 1  # after the last test sample
        return self.method.predict_distribution(test, self.windows.y[:end - 1], self.horizons)


def run_distributions(walkforward: WalkForward, methods: Mapping[str, DistributionMethod],
                      windows: Windows, horizons: Sequence[int], seed: int, lead: int = 0,
                      until: pd.Timestamp | None = None,
                      incremental: Incremental | None = None) -> pd.DataFrame:
    """Rows (date, horizon, method): mean, scale, df, fold, for every method on the folds the
    forecasts use (`incremental`: an earlier run's folds reused where unchanged, see `drive`)."""
    if not methods:
        return pd.DataFrame(columns=["horizon", "method", "mean", "scale", "df", "fold"])
    models = {name: DistributionModel(method, windows, horizons) for name, method in methods.items()}
    parts: list[pd.DataFrame] = []
    spent = dict.fromkeys(methods, 0.0)
    for out in walkforward.drive(SeriesSamples(windows, lead), models, seed, until=until,
                                 progress=False, what="distribution baselines",
                                 incremental=incremental):
        for name, part in out.predictions.items():
            spent[name] += out.seconds[name]
            parts.append(part.assign(method=name, fold=out.fold.number))
    log.info("distribution baselines: %s",
             ", ".join(f"{name} {seconds:.1f} s" for name, seconds in spent.items()))
    frame = pd.concat(parts)
    frame.index.name = "date"
    return frame[["horizon", "method", "mean", "scale", "df", "fold"]]


def model_distributions(predictions: pd.DataFrame) -> pd.DataFrame:
    """The network's rows (method `lstm`) from the forecasts' mean_h*, scale_h*, df_h* columns."""
    parts = [pd.DataFrame({"horizon": h, "method": MODEL, "mean": predictions[f"mean_h{h}"],
                           "scale": predictions[f"scale_h{h}"], "df": predictions[f"df_h{h}"],
                           "fold": predictions["fold"]}, index=predictions.index)
             for h in horizons_of(predictions)]
    frame = pd.concat(parts)
    frame.index.name = "date"
    return frame


def horizons_of(predictions: pd.DataFrame) -> list[int]:
    """The horizons a distribution forecaster's columns hold (none for a point forecaster)."""
    return sorted(int(c[len("mean_h"):]) for c in predictions.columns if c.startswith("mean_h"))


def with_outcomes(frame: pd.DataFrame, daily: pd.Series) -> pd.DataFrame:
    """`realised` beside every row: the h-session log return from the row's date, from `daily`
    (each date's next-day log return; NaN until known). The outcome: the future by design."""
    out = frame.copy()
    out["realised"] = np.nan
    for h in out["horizon"].unique():
        rows = out["horizon"] == h
        realised = pd.Series(horizon_returns(daily.to_numpy(), int(h)), index=daily.index)
        out.loc[rows, "realised"] = realised.reindex(out.index[rows]).to_numpy()
    return out
