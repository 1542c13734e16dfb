"""A journal's files: entries.jsonl (what was forecast and decided at each close, written before the
outcome existed), outcomes.jsonl (the bars that came after, filled in by later runs) and
settings.json (what the journal is of). Both .jsonl files are append-only.

One journal per experiment: the label of the data (a ticker, `universe NAME`) and the hash of the
settings that decide results, so changed settings start a new journal instead of mixing records.
An append rewrites the file under a temporary name with the old bytes first and renames it into
place (backtests/atomic.py), under the journal's lock: a crash leaves the old file whole, two runs
never interleave, and the bytes already written are never changed (checked before each rename).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backtests.atomic import atomic_path, write_json
from backtests.journal.lock import exclusive

ENTRIES, OUTCOMES, SETTINGS = "entries.jsonl", "outcomes.jsonl", "settings.json"


def folder_name(label: str) -> str:
    """A file-system-safe folder name for a data label (`universe dow30` -> `universe_dow30`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "data"


class Journal:
    """The journal of one experiment, in `root/<label>/<key>/`."""

    def __init__(self, root: str | Path, label: str, key: str, lock_timeout_s: float) -> None:
        self.folder = Path(root) / folder_name(label) / key
        self.label, self.key = label, key
        self.lock_timeout_s = float(lock_timeout_s)

    @contextmanager
    def locked(self) -> Iterator[Journal]:
        """The journal, held by this process alone for the block."""
        with exclusive(self.folder / "journal.lock", self.lock_timeout_s):
            yield self

    def start(self, settings: dict[str, Any]) -> None:
        """Write settings.json once, when the journal is new (hold the lock)."""
        if not (self.folder / SETTINGS).exists():
            write_json(self.folder / SETTINGS, {"label": self.label, "key": self.key,
                                                "settings": settings})

    def read(self, name: str) -> list[dict[str, Any]]:
        """Every record of `name` (ENTRIES or OUTCOMES), oldest first."""
        path = self.folder / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def append(self, name: str, records: Sequence[dict[str, Any]]) -> None:
        """Add `records` at the end of `name` (hold the lock); earlier bytes are kept as they are."""
        if not records:
            return
        path = self.folder / name
        old = path.read_bytes() if path.exists() else b""
        if old and not old.endswith(b"\n"):
            raise RuntimeError(f"{path} does not end with a whole record; it was not written "
                               "by the journal")
        new = "".join(json.dumps(r, sort_keys=True, allow_nan=False) + "\n" for r in records)
        with atomic_path(path) as tmp:
            tmp.write_bytes(old + new.encode("utf-8"))
            now = path.read_bytes() if path.exists() else b""
            if now != old:  # only a writer ignoring the lock could have changed it
                raise RuntimeError(f"{path} changed while it was being appended to")
