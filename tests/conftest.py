"""Shared fixtures: the real Hydra config, shrunk to tiny networks and short synthetic markets."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

import backtests.cli  # noqa: F401  (registers the resolvers conf/ uses, as run.py does)

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Small enough that one walk-forward takes seconds: the test preset (conf/debug/test.yaml: the
# `debug` preset's 4-unit LSTM, 200-bar first span, 60-bar folds and no tearsheet, and neither the
# risk LSTM, GARCH, plots nor attributions) on a short synthetic market.
FAST = ["debug=test", "data=synthetic", "data.bars=420"]

# Opt-ins for a test about a part the test preset leaves out: each puts it back as shipped.
RISK_LSTM = "risk_model.methods=[lstm,historical,ewma,garch]"  # every risk method, the LSTM on trial
PLOTS = "report.plots=true"
EXPLAIN = "report.explain=null"  # the shipped default: attributions for a single run
SHIPPED = (RISK_LSTM, PLOTS, EXPLAIN)  # all three, as `debug=default` has them


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose conf/config.yaml with overrides; outputs and caches go under tmp_path."""

    def build(*overrides: str, fast: bool = True) -> DictConfig:
        chosen = {o.split("=")[0] for o in overrides if "=" in o and "." not in o.split("=")[0]}
        shrink = [o for o in FAST if fast and o.split("=")[0].split(".")[0] not in chosen]
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose("config", overrides=[*shrink, *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.paths.cache_dir = str(tmp_path / "cache")
            cfg.paths.results_dir = str(tmp_path / "results")
        return cfg

    return build


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python run.py ARGS` in a real process (what a user types)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
