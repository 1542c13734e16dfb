"""Input windows and next-day targets, aligned so that sample t only holds data up to the close of t."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.features import log_returns


@dataclass(frozen=True)
class Windows:
    """Samples for the forecaster.

    X[i] holds feature rows up to and including date index[i]; y[i] is the log return from the close
    of index[i] to the next close (NaN for the last bar, whose next close is unknown yet).
    """

    X: np.ndarray        # (samples, window, features), float32
    y: np.ndarray        # (samples,), float64
    index: pd.DatetimeIndex

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: slice) -> Windows:
        if not isinstance(item, slice):
            raise TypeError("Windows slices by position ranges only")
        return Windows(self.X[item], self.y[item], self.index[item])

    @property
    def labelled(self) -> Windows:
        """The samples whose target is known (all but a trailing unknown one)."""
        known = np.isfinite(self.y)
        end = len(self) if known.all() else int(np.argmin(known))
        return self[:end]


def next_log_return(close: pd.Series) -> pd.Series:
    """Target at date t: log(close[t+1] / close[t]), known only at the close of t+1."""
    return log_returns(close).shift(-1)


def make_windows(features: pd.DataFrame, close: pd.Series, window: int) -> Windows:
    """Slide a `window`-bar view over the feature table; a view costs no copy until cast."""
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    if len(features) < window:
        raise ValueError(f"{len(features)} feature rows are fewer than window={window}")
    values = features.to_numpy(dtype=np.float32)
    views = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)  # (n, f, window)
    X = np.ascontiguousarray(views.transpose(0, 2, 1))
    index = features.index[window - 1:]
    y = next_log_return(close).reindex(index).to_numpy(dtype=np.float64)
    return Windows(X=X, y=y, index=pd.DatetimeIndex(index))
