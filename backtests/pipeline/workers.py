"""Per-ticker work fanned out over processes, with a progress line as each ticker finishes.

`universe.executor` says where: `loky` (joblib's loky backend on this machine: fresh interpreters,
so TensorFlow is never forked and the parent never imports it) or `dask` (a Dask cluster, or a
LocalCluster here: pipeline/dask_cluster.py, where each worker reads its own prices). Results come
back in job order; a long fan-out logs "risk forecasts: 12/30 tickers done, 95 s elapsed, about
140 s left" about every 10%, in a terminal or a log file alike.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from backtests.data.base import MarketData
from backtests.pipeline.dask_cluster import OwnRead, dask_map

log = logging.getLogger(__name__)

LOG_FORMAT = "[%(asctime)s][%(levelname)s] %(message)s"


def worker_setup(threads: int, tensorflow: bool) -> None:
    """In a worker: log like the parent, and cap TensorFlow's threads when it will train."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    if threads > 0 and tensorflow:
        from forecasting.tf_import import cap_threads

        cap_threads(threads)


@dataclass(frozen=True)
class Executor:
    """Where per-ticker jobs run: `kind` loky or dask, on up to `n_jobs` processes (a LocalCluster's
    size; a running cluster has its own), `address` the Dask scheduler's (None: a LocalCluster)."""

    n_jobs: int
    kind: str = "loky"
    address: str | None = None
    data: dict | None = None  # the resolved data settings a Dask worker reads its prices with

    @classmethod
    def of(cls, cfg: DictConfig, n_jobs: int | None = None) -> Executor:
        """The configured executor (`universe.executor`, `universe.dask`; loky when not set)."""
        kind = str(OmegaConf.select(cfg, "universe.executor", default="loky"))
        jobs = int(n_jobs if n_jobs is not None else OmegaConf.select(cfg, "universe.n_jobs", default=1))
        if kind != "dask":
            return cls(jobs)
        data = OmegaConf.to_container(cfg.data, resolve=True)
        assert isinstance(data, dict)
        return cls(jobs, "dask", OmegaConf.select(cfg, "universe.dask.address", default=None), data)

    def ship(self, market: MarketData) -> MarketData | OwnRead:
        """What a job carries for a ticker's prices: the prices (loky, one machine), or a note from
        which the Dask worker reads them itself (`dask_cluster.arrive` turns either into MarketData)."""
        if self.kind != "dask":
            return market
        assert self.data is not None
        return OwnRead(self.data, market.ticker, market.fingerprint)

    def map(self, function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]],
            what: str) -> list[Any]:
        """[function(*job, threads) for job in jobs], in order; `threads` is each worker's share of
        this machine's cores (0 when run here, in the parent, or on a cluster of its own sizing)."""
        if not jobs:
            return []
        workers = min(self.n_jobs, len(jobs))
        threads = max(1, (os.cpu_count() or 1) // max(1, workers))
        if self.kind == "dask":
            return dask_map(function, jobs, workers, self.address, what,
                            threads if self.address is None else 0)
        if workers <= 1:
            return [function(*job, 0) for job in jobs]
        return _loky_map(function, jobs, workers, what, threads)


def _loky_map(function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], workers: int,
              what: str, threads: int) -> list[Any]:
    from joblib import Parallel, delayed

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

