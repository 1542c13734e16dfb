"""Shared fixtures: the real Hydra config, shrunk to tiny networks and short synthetic markets."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

import backtests.cli  # noqa: F401  (registers the resolvers conf/ uses, as run.py does)

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Small enough that one walk-forward takes seconds: 300 samples, 3 folds, a 4-unit LSTM.
FAST = [
    "data=synthetic", "data.bars=420", "forecaster.window=10", "forecaster.units=4",
    "forecaster.epochs=2", "forecaster.warm_epochs=1", "forecaster.batch_size=64",
    "walkforward.initial_train=200", "walkforward.retrain_every=60", "report.tearsheet=false",
]


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


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> "subprocess.CompletedProcess[str]":
    """Run `python run.py ARGS` in a real process (what a user types)."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def bars(opens: list[float], closes: list[float] | None = None, start: str = "2021-01-04",
         spread: float = 0.5, signal: list[float] | None = None) -> pd.DataFrame:
    """A hand-made OHLCV path: High/Low a fixed spread around the open/close envelope."""
    closes = closes if closes is not None else list(opens)
    index = pd.bdate_range(start, periods=len(opens), name="Date")
    frame = pd.DataFrame({"Open": opens, "Close": closes}, index=index, dtype="float64")
    frame["High"] = frame[["Open", "Close"]].max(axis=1) + spread
    frame["Low"] = frame[["Open", "Close"]].min(axis=1) - spread
    frame["Volume"] = 1_000.0
    if signal is not None:
        frame["signal"] = signal
    return frame[["Open", "High", "Low", "Close", "Volume", *(["signal"] if signal else [])]]
