"""Walk-forward forecasts on disk, keyed by everything that can change them.

The key hashes the data fingerprint, the features, forecaster and walk-forward settings, the seed
and a format version; strategy, risk, broker and report settings are not in it, so reruns that only
change those reuse the forecasts. Files are written atomically, and the JSON note is written last
and checked on reading, so a crash or two sweep jobs racing on one key never leave a file a later
run would trust half-written.

Attributions (report.explain) are kept beside the forecasts, in `<cache_dir>/explanations/` as
`<key>-<tag>.json` (one atomic file; the tag hashes the explain settings): walk-forward models are
not kept, so a hit on the forecasts alone cannot explain them, and a run that wants attributions
the cache lacks trains again (the forecasts it stores again are bit-identical). Changing only
explain settings therefore never invalidates cached forecasts for runs that do not explain.

Sweep jobs that share a key also share the training: the first to miss takes a per-key file lock
(`<cache_dir>/locks/`, an OS lock, so a killed holder frees it) and trains; the others wait on the
lock and then read its entry instead of training the same forecasts again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no lock, jobs racing on a key each train (correct, only slower)
    fcntl = None  # type: ignore[assignment]

import pandas as pd

from backtests.atomic import write_csv, write_json

log = logging.getLogger(__name__)

FORMAT_VERSION = 6  # 2: initial_train counts bars, ridge fit on the whole window; 3: `ridge` column;
# 4: `_target_` keyed by class name; 5: the distribution LSTM weighs horizon h's mean by 1/h;
# 6: its 1-session scale updated by its recent residuals (forecasting/distribution/updating.py)
_held: dict[str, int] = {}  # lock path -> open descriptor, for keys this process is training


def forecast_key(data_fingerprint: str, settings: dict[str, Any], seed: int) -> str:
    """A stable hash of what determines the forecasts."""
    return settings_hash({"data": data_fingerprint, "settings": class_names(settings), "seed": seed,
                          "format": FORMAT_VERSION})


def class_names(node: Any) -> Any:
    """Settings with each `_target_` reduced to its class name: moving a class to another module
    changes no result, so it must not change a cache key or make a finished sweep job rerun."""
    if isinstance(node, dict):
        return {k: (str(v).rpartition(".")[2] if k == "_target_" else class_names(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [class_names(v) for v in node]
    return node


def settings_hash(settings: Any, length: int = 20) -> str:
    """A stable short hash of JSON-able settings."""
    payload = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


# What reads as missing in a stored number; a ticker column is text only ("NA" is a NASDAQ symbol).
MISSING = ["", "NaN", "nan", "NA", "N/A", "null"]


def read_table(path: Path) -> pd.DataFrame:
    """A stored forecast table, indexed by date: numbers as written, tickers as the text they are."""
    columns = pd.read_csv(path, nrows=0).columns
    return pd.read_csv(path, index_col="date", parse_dates=["date"], keep_default_na=False,
                       na_values={c: MISSING for c in columns if c != "ticker"},
                       dtype={"ticker": str} if "ticker" in columns else None)


class ForecastCache:
    """`<cache_dir>/forecasts/<key>.csv` plus `<key>.json` (written last: the file's seal)."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.folder = Path(cache_dir) / "forecasts"
        self.explanations = Path(cache_dir) / "explanations"
        self.locks = Path(cache_dir) / "locks"

    def load(self, key: str) -> pd.DataFrame | None:
        """The entry for `key`; on a miss, this process holds the key's lock until `store`."""
        frame = self._read(key)
        if frame is not None or fcntl is None or self._lock_of(key) in _held:
            return frame
        self.locks.mkdir(parents=True, exist_ok=True)
        lock = self._lock_of(key)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("forecast cache: another job is computing %s; waiting to reuse it", key)
            fcntl.flock(fd, fcntl.LOCK_EX)
            frame = self._read(key)  # the holder has stored it, unless it failed
        if frame is not None:
            os.close(fd)
        else:
            _held[lock] = fd
        return frame

    def sealed(self, key: str) -> bool:
        """Whether an entry for `key` was completed (its note, written last, exists): a cheap
        look before deciding to compute it elsewhere; `load` still checks the entry itself."""
        return (self.folder / f"{key}.json").is_file()

    def peek(self, key: str) -> pd.DataFrame | None:
        """The entry for `key` if it is complete, without taking the key's lock on a miss (a parent
        that hands the misses to worker processes must not hold the locks they need)."""
        return self._read(key)

    def _lock_of(self, key: str) -> str:
        return str(self.locks / f"forecasts-{key}.lock")

    def _read(self, key: str) -> pd.DataFrame | None:
        table, note = self.folder / f"{key}.csv", self.folder / f"{key}.json"
        try:
            meta = json.loads(note.read_text())
            frame = read_table(table)
        except (OSError, ValueError, KeyError) as exc:
            if table.exists() or note.exists():
                log.warning("forecast cache: ignoring unreadable entry %s (%s)", key, exc)
            return None
        if meta.get("rows") != len(frame) or meta.get("key") != key:
            log.warning("forecast cache: entry %s does not match its note; recomputing", key)
            return None
        return frame

    def load_explanation(self, key: str, tag: str) -> dict[str, Any] | None:
        """The attributions stored for `key` under explain settings `tag`, or None."""
        path = self.explanations / f"{key}-{tag}.json"
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            if path.exists():
                log.warning("forecast cache: ignoring unreadable attributions %s (%s)", path, exc)
            return None
        if payload.get("key") != key or payload.get("tag") != tag:
            return None
        return payload.get("explanation")

    def store_explanation(self, key: str, tag: str, explanation: dict[str, Any]) -> None:
        """Written before `store` (which releases the key's lock), in one atomic file."""
        write_json(self.explanations / f"{key}-{tag}.json",
                   {"key": key, "tag": tag, "explanation": explanation})

    def lookup(self, key: str, tag: str | None,
               what: str = "forecasts") -> tuple[pd.DataFrame, dict[str, Any] | None] | None:
        """(forecasts, attributions under explain settings `tag`) if both are cached, else None;
        on a miss this process holds the key's lock until `keep` (see `load`)."""
        cached = self.load(key)
        stored = self.load_explanation(key, tag) if cached is not None and tag else None
        if cached is not None and (tag is None or stored is not None):
            log.info("%s: reusing cached walk-forward forecasts %s (%d rows)", what, key, len(cached))
            return cached, stored
        if cached is not None:
            log.info("%s: %s is cached without attributions for these explain settings; training "
                     "again to explain each fold", what, key)
        return None

    def keep(self, key: str, tag: str | None, frame: pd.DataFrame,
             explanation: dict[str, Any] | None, meta: dict[str, Any]) -> None:
        """Store forecasts and, under `tag`, their attributions (first: `store` frees the lock)."""
        if explanation is not None and tag is not None:
            self.store_explanation(key, tag, explanation)
        self.store(key, frame, meta)

    def store(self, key: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
        write_csv(self.folder / f"{key}.csv", frame, index_label="date")
        write_json(self.folder / f"{key}.json", {**meta, "key": key, "rows": len(frame)})
        release_locks(self._lock_of(key))


def release_locks(path: str | None = None) -> None:
    """Give up this process's claim on one key (or all): a job that failed must not block others."""
    for lock in [path] if path is not None else list(_held):
        fd = _held.pop(lock, None)
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock
