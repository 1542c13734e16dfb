"""Sweeps that survive: finished runs are skipped, a failed job is recorded, the rest go on.

`python run.py -m ...` runs many jobs through a Hydra launcher (basic, joblib, submitit). Three
things make that safe to run for hours and to restart:

- A run folder whose metrics.json (written last) is readable and whose settings match is complete;
  a rerun into the same sweep folder skips it (`stored_result`, called by run_experiment).
- `SweepSummary.on_job_end` writes a failed job's error to `error.txt` in its folder. Hydra's basic
  sweeper would re-raise that failure after the batch and skip `on_multirun_end`, losing the summary,
  so the job is marked done (returning None) there; sweepers with their own failure budget
  (`max_failure_rate`, e.g. Optuna) keep the failure and decide themselves.
- `SweepSummary.on_multirun_end` writes summary.csv and summary.html at the sweep root, then exits
  with status 1 if any run failed, so scripts still notice.
"""
from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_text
from backtests.pipeline.forecast_cache import release_locks
from backtests.runcontext import in_multirun

log = logging.getLogger(__name__)

ERROR_FILE = "error.txt"


def record_failure(folder: Path, error: BaseException) -> str:
    """Write `error` to folder/error.txt: one line and a hint for a user mistake, else a traceback."""
    from backtests.errors import as_user_error

    user = as_user_error(error)
    if user is not None:
        text = f"error: {user.message}\n" + (f"hint: {user.hint}\n" if user.hint else "")
    else:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    write_text(folder / ERROR_FILE, text)
    return text.strip().splitlines()[-1] if user is None else text.splitlines()[0]


class SweepSummary(Callback):
    """Hydra callback (conf/hydra/default.yaml): per-job failure records, and the sweep summary."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        release_locks()  # a job that died while training must not keep its siblings waiting
        folder = Path(config.hydra.runtime.output_dir)
        if job_return.status == JobStatus.COMPLETED:
            (folder / ERROR_FILE).unlink(missing_ok=True)  # an earlier attempt's failure is gone
            return
        error = getattr(job_return, "_return_value", None)
        if job_return.status != JobStatus.FAILED or not isinstance(error, BaseException):
            return
        line = record_failure(folder, error)
        log.error("job failed: %s (recorded in %s)", line, folder / ERROR_FILE)
        budget = OmegaConf.select(config, "hydra.sweeper.max_failure_rate", default=None)
        if in_multirun(config) and budget is None:  # the basic sweeper would abort the sweep
            job_return.status = JobStatus.COMPLETED
            job_return.return_value = None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from backtests.sweeps.summary import write_summary

        sweep_dir = Path(config.hydra.sweep.dir)
        rows = write_summary(sweep_dir)
        failed = [row for row in rows if row["status"] == "failed"]
        log.info("sweep summary: %d runs, %d failed: %s", len(rows), len(failed),
                 sweep_dir / "summary.html")
        if failed:
            for row in failed:
                log.error("%s %s: %s", row["job"], row["status"], row.get("error") or "")
            sys.exit(1)
