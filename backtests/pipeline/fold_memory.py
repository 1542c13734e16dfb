"""The incremental walk-forward's memory on disk: one small file per ticker and settings, and the
fitted states it names, each in a file of its own.

`<cache_dir>/folds/<key>.pkl` holds a `FoldMemory` (forecasting/incremental.py): the inputs a run
saw and each fold's predictions; each model's state after a fold's fit is a file named by a hash
of its bytes under `<cache_dir>/folds/states/`, written once and read only when a fold must be
restored (a run that appends one session reads one or two). The key hashes the settings, the
seed, the ticker and the kind of walk-forward, not the data: a run on grown or revised data finds
the memory its previous run left and redoes only the folds whose inputs changed. Everything is
written atomically, the memory last and only after the walk-forward finished, so a failed or
refused run leaves the previous memory as it was; a memory that cannot be read, or that names a
missing state, is ignored (every fold trains).
"""
from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from backtests.atomic import atomic_path
from backtests.pipeline.forecast_cache import forecast_key
from forecasting.incremental import FoldMemory, Incremental

log = logging.getLogger(__name__)

MEMORY_FORMAT = 2  # bump when FoldMemory or a model's carried state changes shape
# 2: states in files of their own


class StoredStates(Mapping[str, bytes]):
    """A fold's states by model name, each read from its file when asked for."""

    def __init__(self, folder: str, names: dict[str, str]) -> None:
        self.folder, self.names = folder, names

    def __getitem__(self, name: str) -> bytes:
        return (Path(self.folder) / f"{self.names[name]}.bin").read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def missing(self) -> bool:
        return any(not (Path(self.folder) / f"{n}.bin").is_file() for n in self.names.values())


def memory_key(kind: str, ticker: str, settings: dict[str, Any], seed: int) -> str:
    """What an extension must share with the run before it: everything but the data."""
    return forecast_key(f"incremental:{kind}:{ticker}", {**settings, "memory": MEMORY_FORMAT}, seed)


def _path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / "folds" / f"{key}.pkl"


def _states(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "folds" / "states"


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
    if not isinstance(memory, FoldMemory):
        return Incremental(None)
    folder = str(_states(cache_dir))
    for record in memory.folds.values():
        if not isinstance(record.states, StoredStates):
            return Incremental(None)
        record.states.folder = folder  # the cache folder may have moved since
        if record.states.missing():
            log.warning("incremental: fold memory %s names a missing state; training every fold",
                        path)
            return Incremental(None)
    return Incremental(memory)


def remember(cache_dir: str | Path, key: str, incremental: Incremental) -> None:
    """Store what this run computed for the next one: new states first, then the memory."""
    if incremental.current is None:
        return
    folder = _states(cache_dir)
    folds = {}
    for number, record in incremental.current.folds.items():
        states = record.states
        if not isinstance(states, StoredStates):
            names = {}
            for name, blob in states.items():
                names[name] = hashlib.sha256(blob).hexdigest()[:32]
                target = folder / f"{names[name]}.bin"
                if not target.is_file():
                    with atomic_path(target) as tmp:
                        tmp.write_bytes(blob)
            states = StoredStates(str(folder), names)
        folds[number] = replace(record, states=states)
    memory = replace(incremental.current, folds=folds)
    with atomic_path(_path(cache_dir, key)) as tmp, open(tmp, "wb") as fh:
        pickle.dump(memory, fh, protocol=pickle.HIGHEST_PROTOCOL)
