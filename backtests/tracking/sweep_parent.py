"""The sweep's parent run in MLflow: opened once before the jobs, closed once after them.

The parent's run id reaches the jobs through a file in the sweep folder, not an environment
variable: every launcher (joblib workers, submitit, SLURM nodes on a shared filesystem) sees the
sweep folder, while environments are copied at different moments. The callback sits in
conf/hydra/default.yaml before the sweep summary, so it opens the parent first and, because Hydra
calls end hooks in reverse order, closes it after summary.html exists. SweepSummary ends the
process with status 1 when a job failed; an exit hook then closes the parent as FAILED.
"""
from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_text

log = logging.getLogger(__name__)

PARENT_FILE = ".mlflow_parent_run"


def parent_run_id(sweep_dir: str | Path | None) -> str | None:
    """The run id of the sweep's parent run, if the sweep has one."""
    if not sweep_dir:
        return None
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() or None if path.exists() else None


class TrackSweep(Callback):
    """Hydra callback: with `logger=mlflow`, the sweep's parent run (the store is created earlier,
    by backtests.cli.ValidateFirst, before Hydra creates any folder)."""

    def __init__(self) -> None:
        self._open: tuple[Any, str, Path] | None = None  # logger, parent run id, sweep folder

    @staticmethod
    def _logger(config: DictConfig) -> Any:
        node = OmegaConf.select(config, "logger", default=None)
        return None if node is None else instantiate(node)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        logger = self._logger(config)
        if logger is None:
            return
        folder = Path(config.hydra.sweep.dir)
        tags = {"sweep": folder.name, "mode": "sweep",
                "overrides": " ".join(OmegaConf.select(config, "hydra.overrides.task",
                                                       default=[]) or [])[:5000]}
        run_id = logger.start_sweep(folder.name, tags, parent_run_id(folder))
        write_text(folder / PARENT_FILE, run_id + "\n")
        self._open = (logger, run_id, folder)
        atexit.register(self._close, "FAILED")  # a sweep that ends with exit status 1
        log.info("mlflow: sweep %s is parent run %s in %s", folder.name, run_id, logger.tracking_uri)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        if self._open is None:
            return
        logger, run_id, folder = self._open
        self._open = None
        try:
            logger.finish_sweep(run_id, folder, status)
        except Exception as exc:  # noqa: BLE001 - the sweep's results are on disk regardless
            log.error("mlflow: could not close the sweep's parent run %s (%s)", run_id, exc)

