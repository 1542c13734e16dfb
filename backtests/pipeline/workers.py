"""Per-ticker work fanned out over processes, with a progress line as each ticker finishes.

joblib's loky backend starts fresh interpreters, so TensorFlow is never forked and the parent never
imports it. Results come back in order as they finish (`return_as="generator"`), so a long fan-out
logs "risk forecasts: 12/30 tickers done, 95 s elapsed, about 140 s left" about every 10%, in a
terminal or a log file alike.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

LOG_FORMAT = "[%(asctime)s][%(levelname)s] %(message)s"


def worker_setup(threads: int, tensorflow: bool) -> None:
    """In a worker: log like the parent, and cap TensorFlow's threads when it will train."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if threads > 0 and tensorflow:
        from forecasting.tf_import import cap_threads

        cap_threads(threads)


def fan_out(function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], n_jobs: int,
            what: str) -> list[Any]:
    """[function(*job, threads) for job in jobs], on up to n_jobs processes, in order.

    `threads` is each worker's share of the cores (0 when run here, in the parent).
    """
    if not jobs:
        return []
    workers = min(n_jobs, len(jobs))
    if workers <= 1 or len(jobs) == 1:
        return [function(*job, 0) for job in jobs]
    from joblib import Parallel, delayed

    threads = max(1, (os.cpu_count() or 1) // workers)
    started, every = time.perf_counter(), max(1, len(jobs) // 10)
    results = []
    calls = (delayed(function)(*job, threads) for job in jobs)
    for done, result in enumerate(Parallel(n_jobs=workers, backend="loky",
                                           return_as="generator")(calls), start=1):
        results.append(result)
        if done % every == 0 and done < len(jobs):
            spent = time.perf_counter() - started
            log.info("%s: %d/%d tickers done, %.0f s elapsed, about %.0f s left", what, done,
                     len(jobs), spent, spent / done * (len(jobs) - done))
    return results
