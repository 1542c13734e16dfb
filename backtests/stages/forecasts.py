"""The forecast stage: every ticker's out-of-sample forecasts from the one walk-forward loop.

A single ticker's come from its own walk-forward (in this process, explained when asked); a
universe's from each ticker's walk-forward (universe.model=per_ticker, the same cache entries a
single run makes) or one global model over the panel; with point-in-time membership only each
date's members' forecasts are handed on (everything downstream sees those alone). Every kind
is cached, so a rerun trains nothing. A single-ticker strategy that reads no forecast gets the
walk-forward's test dates alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from backtests.data.membership import Membership
from backtests.pipeline.forecasts import ForecastRun, scheduled_outcomes, walk_forward_forecasts
from backtests.pipeline.universe import (
    finish_long,
    global_run,
    long_form,
    per_ticker_forecasts,
)
from backtests.stages.markets import Markets
from forecasting.explain import Explanation
from forecasting.universe.distribution import ONE_SESSION


@dataclass
class Forecasts:
    """What the forecast stage hands on.

    `long`: one row per (date, ticker): forecast, actual, fold, ridge (a universe's also carries
    the naive rules and `scored`, predictions.csv's columns). `run`: a single ticker's walk-forward
    as it came (its predictions by date, cache key, whether it was cached).
    """

    long: pd.DataFrame
    how: dict[str, Any] = field(default_factory=dict)   # run_info's `forecasts` of a universe
    explanation: Explanation | None = None
    run: ForecastRun | None = None
    returns: bool = True  # the forecasts are returns (not cross-sectional ranks)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # each ticker's, as made
    # The global distribution model's 1-session Student-t by ticker (mean_h1, scale_h1, df_h1 by
    # date), and its forecast cache key: what the `lstm` risk method reads, and where it came from.
    one_session: dict[str, pd.DataFrame] = field(default_factory=dict)
    source: str | None = None

    def distribution(self, ticker: str) -> pd.DataFrame | None:
        """A ticker's forecasts with a distribution forecaster's columns (mean_h1, ...), or None."""
        frame = self.frames.get(ticker)
        return frame if frame is not None and "mean_h1" in frame.columns else None

    def risk_input(self, ticker: str) -> pd.DataFrame | None:
        """The 1-session distribution the `lstm` risk method reads for a ticker, or None: its own
        distribution forecaster's, or the global distribution model's."""
        own = self.distribution(ticker)
        return own if own is not None else self.one_session.get(ticker)

    def by_date(self) -> pd.DataFrame:
        """forecast and ridge by (date, ticker): what is known at each close (the audit's view)."""
        return self.long.set_index(["date", "ticker"])[["forecast", "ridge"]].sort_index()


def forecast_stage(cfg: DictConfig, loaded: Markets, reads: bool = True, explain: bool = False,
                   use_cache: bool = True, until: pd.Timestamp | None = None) -> Forecasts:
    """The forecasts of every ticker in `loaded`; `until`: stop after the fold holding that date
    (the audit's rerun, never cached). `reads`: whether the strategy reads forecasts at all."""
    if loaded.single:
        market = loaded.market
        run = (walk_forward_forecasts(cfg, market, use_cache=use_cache, until=until, explain=explain)
               if reads else scheduled_outcomes(cfg, market))
        return Forecasts(long_form({market.ticker: run.predictions}), explanation=run.explanation,
                         run=run, frames={market.ticker: run.predictions})
    universe, membership = loaded.universe, loaded.membership
    assert universe is not None
    if universe.model == "global":
        made = global_run(cfg, universe, loaded.markets, until, progress=until is None,
                          explain=explain, use_cache=use_cache)
        how: dict[str, Any] = {"model": "global", "trained": 0 if made.cached else len(loaded.markets),
                               "cache_key": made.key}
        sessions = one_session(made.predictions, membership)
        return Forecasts(finish_long(made.predictions, loaded.markets, membership), how,
                         made.explanation, returns=universe.target != "csrank",
                         one_session=sessions, source=made.key if sessions else None)
    if until is not None or not use_cache:  # the audit: every ticker afresh, here
        frames = {t: walk_forward_forecasts(cfg, m, use_cache=False, until=until).predictions
                  for t, m in loaded.markets.items()}
        return Forecasts(finish_long(long_form(frames), loaded.markets, membership),
                         {"model": "per_ticker"}, frames=members_only(frames, membership))
    own = per_ticker_forecasts(cfg, loaded.markets, universe.n_jobs, explain=explain)
    return Forecasts(finish_long(long_form(own.predictions), loaded.markets, membership),
                     {"model": "per_ticker", "trained": own.trained, "cache_keys": own.keys},
                     own.explanation, frames=members_only(dict(own.predictions), membership))


def members_only(frames: dict[str, pd.DataFrame], membership: Membership | None) -> dict[str, pd.DataFrame]:
    """Each ticker's own forecasts (indexed by date) on the dates it was a member only."""
    if membership is None:
        return frames
    return {t: f.loc[membership.mask(f.index, [t])[t].to_numpy()] for t, f in frames.items()}


def one_session(long: pd.DataFrame, membership: Membership | None) -> dict[str, pd.DataFrame]:
    """{ticker: the global model's 1-session distribution by date} on its member dates, or {} for a
    model that forecasts a point."""
    if "mean_h1" not in long.columns:
        return {}
    if membership is not None:
        long = membership.keep(long)
    columns = list(ONE_SESSION)
    return {str(t): part.set_index("date")[columns] for t, part in long.groupby("ticker", sort=True)}
