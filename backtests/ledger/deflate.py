"""A run as a ledger trial, and its deflated Sharpe against every trial on the same data and period.

The arithmetic is the sweep summary's (backtests/sweeps/deflated_sharpe.py): per-period moments,
the expected best Sharpe of N skill-less trials from the variance of their Sharpe ratios (SR0),
and the probability that a run's true Sharpe beats it. Only the population differs: here it is
every distinct trial the ledger holds on the run's data fingerprint and its own test period, from
every sweep and single run, so N only grows until a user resets it (`python run.py mode=ledger
mode.reset=true`). What counts as the same trial is backtests/ledger/identity.py's.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from backtests.ledger.identity import settings_hash, trial_settings
from backtests.ledger.store import Trial
from backtests.sweeps.deflated_sharpe import expected_max_sharpe, moments, probabilistic_sharpe


def _clean(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def make_trial(config: Any, dataset: str, ticker: str, returns: pd.DataFrame, sharpe: float | None,
               strategy: str | None = None, sweep: str | None = None, run_dir: str | None = None,
               git_commit: str | None = None, data_end: str | None = None) -> Trial:
    """The ledger record of one run: `returns` has the daily `strategy` and `benchmark` columns."""
    settings = trial_settings(config)
    mine = moments(returns["strategy"])
    excess = moments(returns["strategy"] - returns["benchmark"])
    return Trial(dataset=dataset, ticker=ticker,
                 period_start=returns.index[0].date().isoformat(),
                 period_end=returns.index[-1].date().isoformat(),
                 settings_hash=settings_hash(settings),
                 settings=json.dumps(settings, sort_keys=True, default=str),
                 strategy=strategy, sharpe=_clean(sharpe if sharpe is not None else math.nan),
                 sharpe_per_period=_clean(mine["sharpe_per_period"]),
                 observations=int(mine["observations"]), skew=_clean(mine["skew"]),
                 kurtosis=_clean(mine["kurtosis"]),
                 excess_sharpe_per_period=_clean(excess["sharpe_per_period"]),
                 excess_observations=int(excess["observations"]), excess_skew=_clean(excess["skew"]),
                 excess_kurtosis=_clean(excess["kurtosis"]),
                 sweep=sweep, run_dir=run_dir, git_commit=git_commit, data_end=data_end)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _sr0(trials: list[dict], column: str, count: int) -> float:
    defined = [v for t in trials if math.isfinite(v := _number(t.get(column)))]
    variance = float(np.var(defined, ddof=1)) if len(defined) > 1 else math.nan
    return expected_max_sharpe(variance, count)


def deflate(trial: dict, population: list[dict]) -> dict[str, Any]:
    """The ledger figures of `trial` (a ledger row) against `population` (its dataset and period).

    N is the number of distinct trials (reruns count once); SR0 comes from the variance of their
    per-period Sharpe ratios. A trial that never traded has no Sharpe but was still tried: it counts
    in N, not in the variance (the sweep summary leaves it out of N, so on a sweep with such a run
    the ledger is the stricter of the two). The excess over buy and hold is deflated by the same N,
    as in the sweep summary (a buy-and-hold trial has no excess Sharpe but was still a trial).
    """
    count = len(population)
    sr0, excess_sr0 = _sr0(population, "sharpe_per_period", count), _sr0(
        population, "excess_sharpe_per_period", count)

    def prob(prefix: str, benchmark: float) -> float:
        return probabilistic_sharpe(_number(trial.get(f"{prefix}sharpe_per_period")), benchmark,
                                    int(trial.get(f"{prefix}observations") or 0),
                                    _number(trial.get(f"{prefix}skew")),
                                    _number(trial.get(f"{prefix}kurtosis")))

    return {"trials": count, "expected_max_sharpe": sr0, "deflated_sharpe": prob("", sr0),
            "psr": prob("", 0.0), "excess_expected_max_sharpe": excess_sr0,
            "excess_deflated_sharpe": prob("excess_", excess_sr0), "excess_psr": prob("excess_", 0.0),
            "first_recorded": min((t["recorded_at"] for t in population), default=None),
            "sweeps": len({t.get("sweep") or f"run {t['id']}" for t in population})}
