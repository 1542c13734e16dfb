"""A second process for the run's drawing: figures and the tearsheet made while the run goes on.

The QuantStats tearsheet and the figures take seconds of one core and need nothing but their
inputs (outputs/artifact_cache.py keys them by those), while the run's own process is busy with
the rest of its record. On a machine with two cores or more, one worker process draws them beside
it: started when the run starts, so its imports (matplotlib, QuantStats) overlap the network's
training, and waited for before metrics.json marks the run complete. A job goes to a worker that
is idle and otherwise runs in the run's own process at once, so both draw (the longest job, the
tearsheet, is submitted first) and the record stage takes about as long as its longest drawing.
loky (joblib's executor) sends each job's closure by value with cloudpickle and starts clean
interpreters (no fork of a process running TensorFlow's threads). With `workers=0` every
job runs here, at once: the same functions, the same files.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


def _own_locks() -> None:
    """A worker's progress bars lock with a thread lock, not a multiprocessing one.

    tqdm makes a multiprocessing lock (a named semaphore) at its first bar, even a disabled one,
    and `close` kills the workers: the semaphore was never released, and every run ended with
    Python's "resource_tracker: There appear to be 1 leaked semaphore objects" warning. A worker
    runs one job at a time, so a thread lock is all its bars need.
    """
    import threading

    from tqdm import tqdm
    from tqdm.auto import tqdm as auto

    for bar in {tqdm, auto}:
        bar.set_lock(threading.RLock())


def _warm() -> None:
    """Import what drawing needs while the run trains (the first job then starts at once)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot  # noqa: F401

    import backtests.outputs.plots  # noqa: F401
    from backtests.outputs.tearsheet import quantstats

    quantstats()  # its import, without its style leaking into the figures


class Background:
    """Jobs run by `workers` worker processes when one is idle, else inline; `wait` joins them."""

    def __init__(self, workers: int) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self._pool: Any = None
        self._workers = workers
        self._pending: list[Future] = []

    def _started(self) -> Any:
        """The worker pool, started at its first job (a run with nothing to hand over starts none)."""
        if self._pool is None and self._workers > 0:
            from joblib.externals.loky import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self._workers, initializer=_own_locks)
        return self._pool

    @property
    def inline(self) -> bool:
        return self._workers == 0

    def warm(self) -> None:
        """Have the worker import what drawing needs, after the jobs queued so far."""
        if not self.inline:
            self._started().submit(_warm)

    def queue(self, job: Callable[[], Any]) -> Future:
        """Run `job` in a worker however busy (after what is queued), or here and now without
        one: work begun early, whose result the run asks for later (stages/prefetch.py)."""
        if self.inline:
            return self.submit(job)
        future: Future = self._started().submit(job)
        self._pending.append(future)
        return future

    def submit(self, job: Callable[[], Any]) -> Future:
        """Run `job` in an idle worker, or here and now when every worker is busy (or there is
        none); a worker's error surfaces in `wait`, an inline one at once."""
        busy = sum(not future.done() for future in self._pending)
        if busy < self._workers:
            future: Future = self._started().submit(job)
        else:
            future = Future()
            future.set_result(job())  # inline: an error is raised right here, as before
        self._pending.append(future)
        return future

    def wait(self) -> None:
        """Every submitted job finished; the first one's error is raised (after all have ended,
        so no worker is still writing when the run reports its failure)."""
        pending, self._pending = self._pending, []
        errors = [exc for future in pending if (exc := future.exception()) is not None]
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Stop the workers: after `wait` they have nothing left to do, and on an error what is
        still queued is dropped (every file a job writes is written atomically). Killing them
        takes 0.03 s where letting them wind down took 0.5 s of every run."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, kill_workers=True)
            self._pool = None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if error is not None:
            for future in self._pending:
                future.cancel()
            self._pending = []
        self.close()
