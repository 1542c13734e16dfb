"""The incremental walk-forward's memory on disk: one file per ticker and settings.

`<cache_dir>/folds/<key>.pkl` holds a `FoldMemory` (forecasting/incremental.py): the inputs a run
saw, each fold's predictions and each model's state after its fit. The key hashes the settings,
the seed, the ticker and the kind of walk-forward, not the data: a run on grown or revised data
finds the memory its previous run left and redoes only the folds whose inputs changed. It is
written atomically and only after the walk-forward finished, so a failed or refused run leaves the
previous memory as it was; a memory that cannot be read is ignored (every fold trains).
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

from backtests.atomic import atomic_path
from backtests.pipeline.forecast_cache import forecast_key
from forecasting.incremental import FoldMemory, Incremental

log = logging.getLogger(__name__)

MEMORY_FORMAT = 1  # bump when FoldMemory or a model's carried state changes shape


def memory_key(kind: str, ticker: str, settings: dict[str, Any], seed: int) -> str:
    """What an extension must share with the run before it: everything but the data."""
    return forecast_key(f"incremental:{kind}:{ticker}", {**settings, "memory": MEMORY_FORMAT}, seed)


def _path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / "folds" / f"{key}.pkl"


def recall(cache_dir: str | Path, key: str) -> Incremental:
    """The link to the previous run with these settings (an empty one if there was none)."""
    path = _path(cache_dir, key)
    try:
        with open(path, "rb") as fh:
            memory = pickle.load(fh)
    except FileNotFoundError:
        return Incremental(None)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        log.warning("incremental: ignoring unreadable fold memory %s (%s)", path, exc)
        return Incremental(None)
    return Incremental(memory if isinstance(memory, FoldMemory) else None)


def remember(cache_dir: str | Path, key: str, incremental: Incremental) -> None:
    """Store what this run computed for the next one (atomically: never half-written)."""
    if incremental.current is None:
        return
    with atomic_path(_path(cache_dir, key)) as tmp, open(tmp, "wb") as fh:
        pickle.dump(incremental.current, fh, protocol=pickle.HIGHEST_PROTOCOL)
