"""Slow artifacts built once per content: a rerun pays only for what changed.

The QuantStats tearsheet (~2-3 s), the plots (~1 s) and the forecast scores (which pull in SciPy)
depend only on their inputs. Each is stored under `<cache_dir>/artifacts/` by a hash of those
inputs and of the code version that draws it; a later run with the same inputs copies the stored
file instead of building it again. Entries are written atomically, so a crash leaves either a
whole entry or none, and a changed input (other returns, another title) is simply another key.
A stored value that is not JSON is named in a warning and recomputed; any other error reading
the cache (permissions, a full disk) is raised, not hidden.

A file not in the cache is drawn by the run's background worker when it has one
(outputs/background.py): the caller waits for it before the run is marked complete.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.atomic import atomic_path, write_json
from backtests.outputs.background import Background

log = logging.getLogger(__name__)

# Bump when a drawing or scoring function changes what it writes for the same inputs.
ARTIFACT_VERSION = 2  # 2: the tearsheet shows our time in market


def content_key(name: str, inputs: Iterable[Any]) -> str:
    """A hash of `name`, the code version and every input (frames by value and index)."""
    digest = hashlib.sha256(f"{name}|{ARTIFACT_VERSION}".encode())
    for item in inputs:
        if isinstance(item, (pd.DataFrame, pd.Series)):
            digest.update(pd.util.hash_pandas_object(item, index=True).to_numpy().tobytes())
            digest.update(repr(list(item.columns) if isinstance(item, pd.DataFrame)
                               else item.name).encode())
        else:
            digest.update(json.dumps(item, sort_keys=True, default=str).encode())
        digest.update(b"|")
    return digest.hexdigest()[:24]


class ArtifactCache:
    """`<cache_dir>/artifacts/<key><suffix>`: files keyed by what they were built from."""

    def __init__(self, cache_dir: str | Path, background: Background | None = None) -> None:
        self.folder = Path(cache_dir) / "artifacts"
        self.background = background

    def file(self, dest: Path, inputs: Iterable[Any], build: Callable[[Path], None]) -> bool:
        """Put at `dest` the artifact built from `inputs`; True when it came from the cache.
        A build runs in the background worker when there is one (done after `background.wait`)."""
        stored = self.folder / f"{content_key(dest.name, inputs)}{dest.suffix}"
        if stored.is_file():
            with atomic_path(dest) as tmp:
                shutil.copyfile(stored, tmp)
            log.debug("artifact %s reused from %s", dest.name, stored)
            return True
        if self.background is None:
            _build_and_keep(build, dest, stored)
        else:
            self.background.submit(lambda: _build_and_keep(build, dest, stored))
        return False

    def value(self, name: str, inputs: Iterable[Any], compute: Callable[[], dict]) -> dict:
        """A JSON-able result computed from `inputs` once (e.g. the forecast scores)."""
        stored = self.folder / f"{content_key(name, inputs)}.json"
        try:
            return json.loads(stored.read_text())
        except FileNotFoundError:
            pass  # not computed yet: the ordinary miss
        except ValueError as exc:  # a damaged entry (not JSON): say so, then build it again
            log.warning("artifact cache: %s is corrupt (%s); computing %s again", stored, exc, name)
        result = compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(stored, result)
        return json.loads(stored.read_text())  # the same JSON round trip a cache hit gives


def _build_and_keep(build: Callable[[Path], None], dest: Path, stored: Path) -> None:
    """Build `dest`, then keep a copy at `stored` for the next run with the same inputs."""
    build(dest)
    if dest.is_file():
        stored.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(stored) as tmp:
            shutil.copyfile(dest, tmp)
