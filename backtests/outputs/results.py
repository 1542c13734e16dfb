"""The files of a run folder (besides the tearsheet): metrics, returns, predictions, trades, run info."""
from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_csv, write_json
from backtests.pipeline.forecast_cache import class_names
from backtests.pipeline.metrics import run_objective

log = logging.getLogger(__name__)

# Where files and records go, not what is computed.
IGNORED_GROUPS = ("paths", "ledger", "journal", "logger")

PACKAGES = ("backtrader", "tensorflow-cpu", "tensorflow", "keras", "pandas", "numpy", "quantstats",
            "yfinance", "hydra-core", "omegaconf", "scipy", "matplotlib")


def prediction_table(predictions: pd.DataFrame, close: pd.Series) -> pd.DataFrame:
    """predictions.csv: date, forecast, actual (log returns to the next close), then prices."""
    c = close.reindex(predictions.index)
    table = pd.DataFrame({
        "forecast": predictions["forecast"],
        "actual": predictions["actual"],
        "close": c,
        "predicted_next_close": c * np.exp(predictions["forecast"]),
        "actual_next_close": c * np.exp(predictions["actual"]),
        "ridge": predictions.get("ridge"),
        "fold": predictions["fold"].astype(int),
    }, index=predictions.index)
    table.index.name = "date"
    return table


def returns_table(strategy: pd.Series, benchmark: pd.Series) -> pd.DataFrame:
    table = pd.DataFrame({"strategy": strategy, "benchmark": benchmark})
    table.index.name = "date"
    return table


def write_run_files(folder: Path, metrics: dict, returns: pd.DataFrame, predictions: pd.DataFrame,
                    trades: pd.DataFrame, run_info: dict) -> None:
    write_csv(folder / "returns.csv", returns, date_format="%Y-%m-%d")
    write_csv(folder / "predictions.csv", predictions, date_format="%Y-%m-%d")
    write_csv(folder / "trades.csv", trades, index=False)
    write_csv(folder / "forecast_folds.csv", pd.DataFrame(metrics["forecast"]["per_fold"]), index=False)
    write_json(folder / "run_info.json", run_info)
    write_json(folder / "metrics.json", metrics)  # last: its presence marks a complete run


def package_versions() -> dict[str, str]:
    found: dict[str, Any] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def result_settings(config: Any) -> Any:
    """The settings that decide a run's results, in a form JSON round trips compare equal.

    A `_target_` counts by its class name only: moving a class to another module changes no
    result, so a sweep resumed after such a move still skips its finished runs.
    """
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    if not isinstance(config, dict):
        return None
    kept = {k: v for k, v in config.items() if k not in IGNORED_GROUPS}
    return json.loads(json.dumps(class_names(kept), sort_keys=True, default=str))


def stored_result(folder: Path, cfg: DictConfig) -> float | None:
    """The stored objective (run_objective) if `folder` already holds complete results of these
    settings, else None."""
    metrics_path = folder / "metrics.json"
    if not metrics_path.exists():
        return None
    try:
        metrics = json.loads(metrics_path.read_text())
        stored = json.loads((folder / "run_info.json").read_text()).get("config")
        value = run_objective(metrics)
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
        log.warning("results in %s are unreadable (%s); running again", folder, exc)
        return None
    if result_settings(stored) != result_settings(cfg):
        log.warning("results in %s came from other settings; running again", folder)
        return None
    log.info("skipping: complete results in %s (delete its metrics.json to run it again)", folder)
    return value


# What Hydra and logging put in every run folder before the run itself writes anything.
BOOKKEEPING = (".hydra", "run.log")


def discard_refused_run(folder: Path, results_dir: Path | None = None) -> bool:
    """Remove a run folder that holds nothing of its own (the run was refused before any work:
    a ticker or file that does not exist, too little history), and its parents left empty up to
    `results_dir`, so a typo leaves no folder named after it. True when removed."""
    folder = Path(folder)
    if not folder.is_dir() or any(p.name not in BOOKKEEPING for p in folder.iterdir()):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    stop = (Path(results_dir).resolve() if results_dir else folder.parent).resolve()
    parent = folder.parent.resolve()
    while parent != stop and stop in parent.parents:
        try:
            parent.rmdir()  # only when empty: another run's folder stops the walk
        except OSError:
            break
        parent = parent.parent
    return True
