"""A log line per stage with its timing, so a user sees what is happening and where time goes."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Timings(dict):
    """Seconds per stage, in the order the stages ran (written to run_info.json)."""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        log.info("%s ...", name)
        started = time.perf_counter()
        yield
        self[name] = round(time.perf_counter() - started, 3)
        log.info("%s: done in %.1f s", name, self[name])
