"""Per-ticker work on a Dask cluster: a running one (`universe.dask.address`) or a LocalCluster here.

Why Dask: past one machine, the per-ticker forecasts and risk forecasts of hundreds of names are
independent jobs, and a cluster (SLURM/PBS through dask-jobqueue, or `dask scheduler` + workers)
runs them on many nodes. What travels: a job's settings and a small `OwnRead` note (the ticker, the
data settings and the data's fingerprint), never a model or a price table: each worker reads its own
prices through the same source a run uses, checks the fingerprint, trains, writes the shared forecast
cache itself, and returns only the forecast table. LocalCluster workers are fresh processes
(`spawn`), so TensorFlow is never forked, as with loky.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from backtests.data.base import MarketData
from backtests.data.universe import ticker_source
from backtests.errors import UserError

log = logging.getLogger(__name__)

ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s/]+$")
CONNECT_TIMEOUT = "20s"  # waiting for a scheduler that does not answer


class DaskSettings:
    """universe.dask: where the Dask executor runs (conf/universe/single.yaml)."""

    def __init__(self, *, address: str | None) -> None:
        # No defaults here: conf/universe/single.yaml holds them (backtests/settings/defaults.py).
        if address is not None and not ADDRESS.match(str(address)):
            raise UserError(f"universe.dask.address={address!r} is not a Dask scheduler address",
                            "give the scheduler's address, e.g. universe.dask.address=tcp://10.0.0.5:8786, "
                            "or null for a LocalCluster on this machine")
        self.address = None if address is None else str(address)


def require_distributed() -> None:
    """Refuse universe.executor=dask, with the fix, when the optional extra is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UserError("universe.executor=dask needs the dask and distributed packages, which are "
                        "not installed", 'pip install -c constraints.txt -e ".[dask]", or use '
                        "universe.executor=loky") from None


def check_reachable(address: str | None) -> None:
    """Before any expensive work: the scheduler at `address` answers (a LocalCluster always will)."""
    require_distributed()
    if address is None:
        return
    from distributed import Client

    try:
        Client(address, timeout=CONNECT_TIMEOUT).close()
    except (OSError, TimeoutError) as exc:
        raise UserError(f"no Dask scheduler answers at universe.dask.address={address} ({exc})",
                        "start one (`dask scheduler`, then `dask worker ADDRESS` on each node, or a "
                        "dask-jobqueue cluster: docs/scale.md), or leave universe.dask.address=null "
                        "for a LocalCluster") from None


@dataclass(frozen=True)
class OwnRead:
    """A ticker's prices as a worker reads them itself: the resolved data settings, the ticker and
    the fingerprint the run loaded (the worker's copy must be the same data, or the cache keys and
    the forecasts would not be the run's)."""

    data: dict
    ticker: str
    fingerprint: str

    def load(self) -> MarketData:
        market = ticker_source(OmegaConf.create(self.data), self.ticker).load(say_age=False)
        if market.fingerprint != self.fingerprint:
            raise UserError(f"{self.ticker}: the prices a Dask worker read differ from the ones this "
                            f"run loaded (fingerprint {market.fingerprint}, not {self.fingerprint})",
                            "give every worker the same data: data.path on a shared filesystem, "
                            "the same absolute path on every node, and no file changed during the run")
        return market


def arrive(market: MarketData | OwnRead) -> MarketData:
    """In a worker: the MarketData a job names (read here when it came as an OwnRead)."""
    return market.load() if isinstance(market, OwnRead) else market


def dask_map(function: Callable[..., Any], jobs: Sequence[tuple[Any, ...]], workers: int,
             address: str | None, what: str, threads: int) -> list[Any]:
    """[function(*job, threads) for job in jobs] on the cluster at `address`, or on a LocalCluster of
    `workers` single-threaded processes; results in job order, progress logged about every 10%."""
    require_distributed()
    from distributed import Client, LocalCluster, as_completed

    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO start-up lines
    # a LocalCluster's worker still running TensorFlow's threads at close is killed after 4 s: harmless
    logging.getLogger("distributed.nanny").setLevel(logging.ERROR)
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    client = Client(cluster if cluster is not None else address, timeout=CONNECT_TIMEOUT)
    try:
        log.info("%s: %d jobs on Dask (%s)", what, len(jobs), address or f"LocalCluster of {workers}")
        futures = [client.submit(function, *job, threads, pure=False) for job in jobs]
        started, every = time.perf_counter(), max(1, len(jobs) // 10)
        for done, _ in enumerate(as_completed(futures), start=1):
            if done % every == 0 and done < len(jobs):
                spent = time.perf_counter() - started
                log.info("%s: %d/%d tickers done, %.0f s elapsed, about %.0f s left", what, done,
                         len(jobs), spent, spent / done * (len(jobs) - done))
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
