"""Incremental walk-forward: a run on grown data reuses the earlier run's folds and equals a
from-scratch run on the same data byte for byte."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import open_dict

from backtests.data.synthetic import synthetic_bars
from backtests.modes.experiment import run_experiment

BARS = 420  # the test preset's folds: forecasts from bar 200, a new fold every 60 bars
STEPS = (1, 1, 21, 60)  # sessions appended before each rerun, as the acceptance test
OUTPUTS = ("predictions.csv", "var.csv", "trades.csv", "metrics.json")


def _write(bars, path: Path) -> Path:
    bars.to_csv(path, index_label="Date")
    return path


def _run(make_cfg, tmp_path: Path, csv: Path, out: str, cache: str, *overrides: str) -> Path:
    cfg = make_cfg("data=csv", f"data.path={csv}", "ticker=SYN", "data.start=2000-01-01",
                   *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / out)
        cfg.paths.cache_dir = str(tmp_path / cache)
    run_experiment(cfg)
    return tmp_path / out


def _extended_equals_scratch(make_cfg, tmp_path: Path, *overrides: str) -> None:
    full = synthetic_bars(BARS, seed=3)
    start = BARS - sum(STEPS)
    csv = tmp_path / "SYN.csv"
    _write(full.iloc[:start], csv)
    _run(make_cfg, tmp_path, csv, "step0", "cache", *overrides)
    end = start
    for number, step in enumerate(STEPS, start=1):
        end += step
        _write(full.iloc[:end], csv)
        last = _run(make_cfg, tmp_path, csv, f"step{number}", "cache", *overrides)
    scratch = _run(make_cfg, tmp_path, csv, "scratch", "fresh-cache", *overrides)
    for name in OUTPUTS:
        assert (last / name).read_bytes() == (scratch / name).read_bytes(), name


@pytest.mark.parametrize("forecaster", ["lstm_tiny", "ridge"])
def test_extending_the_data_step_by_step_equals_one_run_from_scratch(make_cfg, tmp_path,
                                                                     forecaster):
    _extended_equals_scratch(make_cfg, tmp_path, f"forecaster={forecaster}",
                             "forecaster.window=10")
