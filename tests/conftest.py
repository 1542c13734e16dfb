"""Shared fixtures: the real Hydra config, shrunk to tiny networks and short synthetic markets."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject.toml): a worker per core, but none when the run is one test file: its
    tests stay on one worker anyway (--dist loadfile), and workers would only add their startup."""
    files = {str(arg).split("::")[0] for arg in config.args}
    if len(files) == 1 and files.pop().endswith(".py"):
        return 0
    return os.cpu_count() or 1


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


def run_cli(*args: str, cwd: Path, timeout: float = 300,
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python run.py ARGS` in a real process (what a user types), `env_extra` in its environment."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), **(env_extra or {})}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class BatchRun:
    """One command of run_cli_batch: what a process would have returned, and whether TensorFlow
    or Keras had been imported by the time it ended."""

    returncode: int
    stdout: str
    stderr: str
    tensorflow: bool


def run_cli_batch(commands: Sequence[Sequence[str]], cwd: Path, timeout: float = 300) -> list[BatchRun]:
    """Run many `python run.py ARGS` commands one after another in ONE fresh process (tests/cli_batch.py):
    the same entry point, one import cost. For commands that end early (a refused setting)."""
    cases, results = cwd / ".cli-batch-cases.json", cwd / ".cli-batch-results.json"
    cases.write_text(json.dumps([list(c) for c in commands]))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    done = subprocess.run([sys.executable, "-m", "tests.cli_batch", str(cases), str(results)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return [BatchRun(**row) for row in json.loads(results.read_text())]
