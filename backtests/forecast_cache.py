"""Walk-forward forecasts on disk, keyed by everything that can change them.

The key hashes the data fingerprint, the features, forecaster and walk-forward settings, the seed
and a format version; strategy, risk, broker and report settings are not in it, so reruns that only
change those reuse the forecasts. Files are written atomically, and the JSON note is written last
and checked on reading, so a crash or two sweep jobs racing on one key never leave a file a later
run would trust half-written.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.atomic import write_csv, write_json

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def forecast_key(data_fingerprint: str, settings: dict[str, Any], seed: int) -> str:
    """A stable hash of what determines the forecasts."""
    payload = json.dumps({"data": data_fingerprint, "settings": settings, "seed": seed,
                          "format": FORMAT_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


class ForecastCache:
    """`<cache_dir>/forecasts/<key>.csv` plus `<key>.json` (written last: the file's seal)."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.folder = Path(cache_dir) / "forecasts"

    def load(self, key: str) -> pd.DataFrame | None:
        table, note = self.folder / f"{key}.csv", self.folder / f"{key}.json"
        try:
            meta = json.loads(note.read_text())
            frame = pd.read_csv(table, index_col="date", parse_dates=["date"],
                                float_precision="round_trip")
        except (OSError, ValueError, KeyError) as exc:
            if table.exists() or note.exists():
                log.warning("forecast cache: ignoring unreadable entry %s (%s)", key, exc)
            return None
        if meta.get("rows") != len(frame) or meta.get("key") != key:
            log.warning("forecast cache: entry %s does not match its note; recomputing", key)
            return None
        return frame

    def store(self, key: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
        write_csv(self.folder / f"{key}.csv", frame, index_label="date")
        write_json(self.folder / f"{key}.json", {**meta, "key": key, "rows": len(frame)})
