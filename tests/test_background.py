"""What the background worker does (fitted baselines, drawn figures) is what the run would do."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from backtests.modes import experiment
from backtests.outputs.background import Background
from tests.conftest import DISTRIBUTION


def _pid_to(path: Path) -> int:
    path.write_text(str(os.getpid()))
    return os.getpid()


def _fail() -> None:
    raise RuntimeError("drawing failed")


def test_without_workers_a_job_runs_here_at_once(tmp_path):
    with Background(0) as background:
        future = background.submit(lambda: _pid_to(tmp_path / "here"))
        assert future.result() == os.getpid() and (tmp_path / "here").is_file()
        with pytest.raises(RuntimeError, match="drawing failed"):
            background.submit(_fail)


def test_a_worker_runs_a_job_elsewhere_and_its_error_surfaces_in_wait(tmp_path):
    with Background(1) as background:
        first = background.submit(lambda: _pid_to(tmp_path / "there"))
        first.result()
        background.wait()
        assert int((tmp_path / "there").read_text()) != os.getpid()
        background.submit(_fail)
        with pytest.raises(RuntimeError, match="drawing failed"):
            background.wait()


def test_a_busy_worker_leaves_the_next_job_to_this_process(tmp_path):
    import time

    with Background(1) as background:
        background.submit(lambda: time.sleep(2))
        assert background.submit(lambda: os.getpid()).result() == os.getpid()
        background.wait()


DRAWN = ("forecast.png", "forecast_skill.png", "risk.png")


@pytest.mark.slow  # two runs drawing every figure and the tearsheet: .ci/run's slow step runs it
def test_the_worker_draws_the_same_files(make_cfg, tmp_path):
    """workers=1 (the shipped setting) against 0: every figure byte for byte, the tearsheet
    there, metrics.json written only after them."""
    files = {}
    for workers in (0, 1):
        cfg = make_cfg("forecaster=ridge", "report.plots=true", "report.tearsheet=true",
                       f"workers={workers}")
        cfg.paths.output_dir = str(tmp_path / f"run{workers}")
        cfg.paths.cache_dir = str(tmp_path / f"cache{workers}")  # each draws its own
        experiment.run_experiment(cfg)
        out = tmp_path / f"run{workers}"
        assert (out / "tearsheet.html").stat().st_size > 10_000 and (out / "metrics.json").is_file()
        files[workers] = {name: (out / name).read_bytes() for name in DRAWN}
    assert files[0] == files[1]


def test_baselines_fitted_beside_the_network_are_the_ones_fitted_after_it(make_cfg, tmp_path, caplog):
    """With a worker the distribution baselines and the network-free risk methods are fitted while
    the network trains: distribution.csv, var.csv and metrics.json are byte for byte the inline ones."""
    files = {}
    for workers in (0, 1):
        cfg = make_cfg(*DISTRIBUTION, "forecaster.horizons=[1,5]", f"workers={workers}",
                       "risk_model.methods=[lstm,historical,ewma,garch]")
        cfg.paths.output_dir = str(tmp_path / f"run{workers}")
        cfg.paths.cache_dir = str(tmp_path / f"cache{workers}")
        with caplog.at_level("INFO", logger="backtests.stages.prefetch"):
            experiment.run_experiment(cfg)
        assert ("fitted beside the network" in caplog.text) == (workers == 1)
        out = tmp_path / f"run{workers}"
        files[workers] = {name: (out / name).read_bytes()
                          for name in ("distribution.csv", "var.csv", "predictions.csv", "metrics.json")}
    assert files[0] == files[1]
    caplog.clear()  # a rerun on the same cache starts no job: the stages read the cached baselines
    (tmp_path / "run1" / "metrics.json").unlink()
    with caplog.at_level("INFO", logger="backtests.stages.prefetch"):
        experiment.run_experiment(cfg)
    assert "fitted beside the network" not in caplog.text
    assert (tmp_path / "run1" / "distribution.csv").read_bytes() == files[1]["distribution.csv"]


def test_a_run_with_a_worker_ends_without_a_leaked_semaphore_warning(tmp_path):
    """A worker that drew a progress bar is killed at close: Python must not warn at exit that a
    semaphore leaked (tqdm's multiprocessing lock did, on every run with workers=1)."""
    import subprocess
    import sys

    script = (
        "from backtests.outputs.background import Background\n"
        "def bar():\n"
        "    from tqdm.auto import tqdm\n"
        "    return sum(tqdm(range(3), disable=True))\n"
        "with Background(1) as background:\n"
        "    background.queue(bar).result()\n"
        "    background.wait()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr
