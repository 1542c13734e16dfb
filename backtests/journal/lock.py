"""One writer at a time: an exclusive lock on a file, released when its holder ends (even killed).

The evening run and a run started by hand must never write one journal at once. `flock` locks are
owned by the open file: a process that dies releases its lock, so a crash never leaves a stale lock
behind for the next evening.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backtests.errors import UserError


@contextmanager
def exclusive(path: Path, timeout_s: float) -> Iterator[None]:
    """Hold the lock on `path` (created if missing) for the block; wait at most `timeout_s`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UserError(f"another run has held the lock {path} for over {timeout_s:g} s",
                                    "let that run finish (see docs/daily.md: one evening run at a "
                                    "time) or raise journal.lock_timeout_s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
