"""Where results, caches and the ledger live: one place, whatever folder a run starts from.

Resolved against the working directory, `python run.py` from another folder would find an empty
cache (and retrain) and a second ledger (and count trials twice). So the results root is anchored:
`$LSTM_RESULTS_DIR` when set, else the project's own `results/` folder beside run.py; an explicit
`paths.results_dir=...` still wins (conf/paths/default.yaml).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

RESULTS_ENV = "LSTM_RESULTS_DIR"


def project_root() -> Path | None:
    """The checkout that holds run.py and conf/ (None for a package installed elsewhere)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "run.py").is_file() and (root / "conf").is_dir() else None


def results_root() -> str:
    """`${results_root:}`: $LSTM_RESULTS_DIR, else <project>/results, else ./results (absolute)."""
    given = os.environ.get(RESULTS_ENV, "").strip()
    if given:
        return str(Path(given).expanduser().resolve())
    root = project_root()
    return str((root if root is not None else Path.cwd()) / "results")


def where(cfg: DictConfig) -> dict[str, Any]:
    """Where this run's results, caches, ledger and tracking store are (absolute; None: off)."""

    def pick(key: str) -> Any:
        return OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)

    def absolute(value: Any) -> str | None:
        return None if value in (None, "") else str(Path(str(value)).expanduser().resolve())

    ledger_on = pick("ledger") is not None and bool(pick("ledger.enabled"))
    return {"results": absolute(pick("paths.results_dir")), "run": absolute(pick("paths.output_dir")),
            "cache": absolute(pick("paths.cache_dir")),
            "ledger": absolute(pick("ledger.path")) if ledger_on else None,
            "mlflow": pick("logger.tracking_uri")}


def log_locations(cfg: DictConfig) -> None:
    """The run's first log lines: where everything it reads and writes is kept."""
    places = where(cfg)
    if places["results"] != results_root():
        source = "paths.results_dir"
    else:
        source = f"${RESULTS_ENV}" if os.environ.get(RESULTS_ENV, "").strip() else "the project folder"
    log.info("results: %s (set by %s)", places["results"], source)
    log.info("this run: %s", places["run"])
    log.info("caches: %s; ledger: %s%s", places["cache"], places["ledger"] or "off",
             f"; mlflow: {places['mlflow']}" if places["mlflow"] else "")
