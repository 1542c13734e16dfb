"""What `run.py` calls: run the configured mode; a user mistake becomes one line and exit code 2."""
from __future__ import annotations

import logging
import os
import sys

from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.errors import UserError

log = logging.getLogger("backtests")


def main(cfg: DictConfig) -> float | None:
    """Run `cfg.mode` (backtest, audit, predict). Set HYDRA_FULL_ERROR=1 for full tracebacks."""
    try:
        task = instantiate(cfg.mode)
        return task(cfg)
    except UserError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        log.debug("user error", exc_info=True)
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        sys.exit(2)
