"""`mode=backtest` (the default): one experiment, end to end, for one ticker or a universe.

The work is the run chain's (backtests/stages/chain.py): prices -> forecasts -> risk forecasts ->
sentiment -> trade -> record, the same stages for a single ticker and for many.
"""
from __future__ import annotations

from omegaconf import DictConfig

from backtests.stages.chain import run_chain


def run_experiment(cfg: DictConfig) -> float:
    """Run the configured experiment, write its folder, and return the objective sweeps optimise
    (the strategy's Sharpe ratio; a universe's mean daily IC when it trades no portfolio)."""
    return run_chain(cfg)
