"""The locked test period: with `evaluation.holdout` set, a run sees only the bars before it.

Runs, sweep jobs and Optuna trials all load their prices through the chain's load stage, which
asks `selection_data` for the data settings: the source's `end` is moved to the last day before
the holdout, so no forecast, trade, figure or file of theirs can hold a bar at or after it (the
last forecast's outcome would be the holdout's first return: with the bars cut, that forecast has
no outcome and is never scored). Only `mode=holdout` opens the period (backtests/modes/holdout.py).
"""
from __future__ import annotations

import pandas as pd
from omegaconf import DictConfig, OmegaConf, open_dict

from backtests.errors import UserError


def holdout_date(cfg: DictConfig) -> pd.Timestamp | None:
    """`evaluation.holdout` as a date (None: no locked period)."""
    value = OmegaConf.select(cfg, "evaluation.holdout", default=None)
    if value is None or value == "":
        return None
    try:
        return pd.Timestamp(str(value)).normalize()
    except (ValueError, TypeError) as exc:
        raise UserError(f"evaluation.holdout={value!r} is not a date",
                        "use the form YYYY-MM-DD, or evaluation.holdout=null") from exc


def selection_data(cfg: DictConfig) -> DictConfig:
    """`cfg.data`, its `end` moved before the holdout when one is set (a copy; `cfg` is unchanged)."""
    holdout = holdout_date(cfg)
    if holdout is None:
        return cfg.data
    last = holdout - pd.Timedelta(days=1)
    end = OmegaConf.select(cfg, "data.end", default=None)
    data = OmegaConf.create(OmegaConf.to_container(cfg.data, resolve=True))
    assert isinstance(data, DictConfig)
    with open_dict(data):
        if end is None or pd.Timestamp(str(end)) > last:
            data.end = str(last.date())
    return data
