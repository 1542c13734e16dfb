"""`logger=mlflow`: every run in MLflow, a sweep as a parent run with its jobs as children.

Each run logs its resolved config as params, every numeric leaf of metrics.json (and trials.json)
as a metric with a dotted name (numbers inside lists, such as the per-fold errors, as steps of one
metric), every file of its run folder as an artifact (.hydra/ included: overrides.yaml replays the
run; run.log as it stands when the run ends), and tags a user filters on (git commit, data
fingerprint, mode, ticker, strategy, sweep). Nothing is chosen by name, so a new file or metrics
block is never left out. mlflow is an optional extra
(`pip install -c constraints.txt -e ".[mlflow]"`), imported only here and only when used.

Many jobs opening a new SQLite store at once race on its schema creation (Alembic migrations),
so the store is opened and the experiment created under an OS file lock beside the database; the
sweep callback also does it once before any job starts. The results folder stays the record: a
tracking failure is logged and the run's files are kept.
"""
from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backtests.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no lock; create the store once before starting parallel jobs
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

BATCH = 100  # MLflow's limit of params per log_batch call
MAX_KEY = 250  # MLflow's longest metric or param name
NOT_LOGGED = ("trials.id",)  # a row number in the ledger, not a figure
MAX_PARAM = 6000  # characters MLflow keeps of a param value
# The UI opens an experiment of this kind on its runs table, not on the GenAI traces overview.
KIND = ("mlflow.experimentKind", "custom_model_development")


class MlflowLogger:
    """Where runs are tracked: an MLflow tracking URI (a sqlite: file or a server) and experiment."""

    def __init__(self, *, tracking_uri: str, experiment: str, artifact_location: str | None) -> None:
        # No defaults here: conf/logger/mlflow.yaml holds them (backtests/settings/defaults.py).
        self.tracking_uri = str(tracking_uri)
        self.experiment = str(experiment)
        self.artifact_location = artifact_location

    def client(self) -> Any:
        """An MlflowClient on the tracking URI (a UserError when mlflow is not installed)."""
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no calls home from a backtest
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise UserError("logger=mlflow needs the mlflow package, which is not installed",
                            'pip install -c constraints.txt -e ".[mlflow]" (or drop logger=mlflow)'
                            ) from exc
        for name in ("alembic", "mlflow"):  # schema migrations log a dozen INFO lines
            logging.getLogger(name).setLevel(logging.WARNING)
        return MlflowClient(tracking_uri=self.tracking_uri)

    def prepare(self) -> tuple[Any, str]:
        """The client and the experiment id; creates store and experiment once, under a lock."""
        with self._store_lock():
            client = self.client()
            found = client.get_experiment_by_name(self.experiment)
            if found is not None:
                if KIND[0] not in found.tags:
                    client.set_experiment_tag(found.experiment_id, *KIND)
                return client, found.experiment_id
            location = (Path(self.artifact_location).resolve().as_uri()
                        if self.artifact_location and "://" not in str(self.artifact_location)
                        else self.artifact_location)
            return client, client.create_experiment(self.experiment, artifact_location=location,
                                                    tags=dict([KIND]))

    @contextmanager
    def _store_lock(self) -> Iterator[None]:
        """An exclusive OS lock beside a sqlite: store (a no-op for servers and on Windows)."""
        if not self.tracking_uri.startswith("sqlite:///"):
            yield
            return
        database = Path(self.tracking_uri[len("sqlite:///"):])
        database.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        fd = os.open(f"{database}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
            yield
        finally:
            os.close(fd)

    def start_sweep(self, name: str, tags: dict[str, str], run_id: str | None = None) -> str:
        """The parent run of a sweep (reopened when `run_id`, a resumed sweep's, still exists)."""
        client, experiment_id = self.prepare()
        if run_id is not None:
            try:
                client.update_run(run_id, status="RUNNING")
                return run_id
            except Exception:  # deleted or another store: start a new parent
                log.info("mlflow: the sweep's earlier parent run %s is gone; starting a new one",
                         run_id)
        run = client.create_run(experiment_id, run_name=name, tags=tags)
        return run.info.run_id

    def finish_sweep(self, run_id: str, folder: Path, status: str) -> None:
        """Attach the sweep summary to its parent run and close it with `status`."""
        client = self.client()
        for name in ("summary.html", "summary.csv"):
            if (folder / name).exists():
                client.log_artifact(run_id, str(folder / name))
        for key, value in sweep_metrics(folder / "summary.csv").items():
            client.log_metric(run_id, key, value)
        client.set_terminated(run_id, status=status)

    def log_run(self, folder: Path, metrics: dict, run_info: dict) -> str | None:
        """Log one finished run (a child of its sweep's parent run); return its run id."""
        try:
            return self._log_run(folder, metrics, run_info)
        except UserError:
            raise
        except Exception as exc:  # the results folder is complete: keep it, say what failed
            log.error("mlflow: the run was not logged to %s (%s: %s); its results are in %s",
                      self.tracking_uri, type(exc).__name__, exc, folder)
            return None

    def _log_run(self, folder: Path, metrics: dict, run_info: dict) -> str:
        from mlflow.entities import Metric, Param

        from backtests.runcontext import sweep_folder
        from backtests.tracking.sweep_parent import parent_run_id

        client, experiment_id = self.prepare()
        tags = run_tags(metrics, run_info)
        parent = parent_run_id(sweep_folder())
        if parent is not None:
            tags["mlflow.parentRunId"] = parent
        run_id = client.create_run(experiment_id, run_name=folder.name, tags=tags).info.run_id
        params = [Param(metric_key(k), v) for k, v in flatten(run_info.get("config") or {}).items()]
        stamp = _now_ms()
        values = [Metric(key, value, stamp, step)
                  for key, steps in metric_values(metrics).items() for step, value in steps]
        for start in range(0, max(len(params), len(values)), BATCH):
            client.log_batch(run_id, metrics=values[start:start + BATCH],
                             params=params[start:start + BATCH])
        for path in run_files(folder):
            subfolder = path.parent.relative_to(folder).as_posix()
            client.log_artifact(run_id, str(path), None if subfolder == "." else subfolder)
        client.set_terminated(run_id, status="FINISHED")
        log.info("mlflow: run %s logged to %s (experiment %s%s)", run_id, self.tracking_uri,
                 self.experiment, f", child of {parent}" if parent else "")
        return run_id


def sweep_metrics(summary: Path) -> dict[str, float]:
    """The parent run's figures: runs, complete runs, both trial counts, the best of both DSRs."""
    import pandas as pd

    if not summary.exists():
        return {}
    table = pd.read_csv(summary)
    found = {"runs": float(len(table)), "complete": float((table["status"] == "complete").sum())}
    for key in ("trials", "ledger_trials", "deflated_sharpe", "ledger_deflated_sharpe"):
        if key in table and table[key].notna().any():
            found[f"max_{key}" if "deflated" in key else key] = float(table[key].max())
    return found


def run_tags(metrics: dict, run_info: dict) -> dict[str, str]:
    command, data = run_info.get("command") or {}, metrics.get("data") or {}
    tags = {"git_commit": run_info.get("git_commit"),
            "mlflow.source.git.commit": run_info.get("git_commit"),
            "data_fingerprint": run_info.get("data_fingerprint") or data.get("fingerprint"),
            "mode": command.get("mode"),
            "ticker": command.get("ticker") or data.get("ticker") or command.get("universe"),
            "strategy": command.get("strategy"), "sweep": run_info.get("sweep")}
    return {k: str(v) for k, v in tags.items() if v is not None}


def flatten(node: Any, prefix: str = "") -> dict[str, str]:
    """Dotted keys to text values: the resolved config as MLflow params."""
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): str(node)[:MAX_PARAM]} if prefix else {}


def run_files(folder: Path) -> list[Path]:
    """Every file of a run folder, sub-folders included, but atomic writes still in progress."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and ".tmp-" not in p.name)


def metric_key(name: str) -> str:
    """`name` as MLflow accepts it: letters, digits and _ - . space : / only, at most 250 long."""
    return re.sub(r"[^\w\-. :/]", "_", name)[:MAX_KEY]


def metric_values(metrics: dict) -> dict[str, list[tuple[int, float]]]:
    """Every finite number (and boolean) of metrics.json as `block.key` -> [(step, value)].

    Nested blocks are dotted (`forecast.persistence.mse`); numbers inside a list are steps of one
    metric: a record's own `fold` number when it has one (`forecast.per_fold.mse` at the fold it
    scores, so a fold left out shifts nothing), else its position.
    """
    found: dict[str, list[tuple[int, float]]] = {}

    def walk(node: Any, prefix: str, step: int | None) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.", step)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                own = item.get("fold") if isinstance(item, dict) else None
                at = int(own) if isinstance(own, int) and not isinstance(own, bool) else index
                # A list in a list: the inner position is part of the name, the outer is the step.
                walk(item, prefix if step is None else f"{prefix}{index}.", at if step is None else step)
        elif isinstance(node, bool) or _finite(node):
            name = prefix.rstrip(".")
            if name not in NOT_LOGGED:
                found.setdefault(metric_key(name), []).append((step or 0, float(node)))

    walk(metrics, "", None)
    return found


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)
