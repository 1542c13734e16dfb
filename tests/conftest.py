"""Shared fixtures: the real Hydra config, shrunk to tiny networks and short synthetic markets.

No test writes outside its temporary folder: the results root ($LSTM_RESULTS_DIR, which every
run's results, caches, ledger and MLflow store follow) points into pytest's temporary folders for
the whole session and for each test, and at the end of the session the checkout is compared with
a snapshot taken at its start; any file created, changed or deleted fails the session.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

import backtests.cli  # noqa: F401  (registers the resolvers conf/ uses, as run.py does)
from backtests.errors import OPTUNA_INSTALL
from backtests.outputs.locations import RESULTS_ENV

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
# The distribution forecaster, tiny (tests/test_distribution_*.py)
DISTRIBUTION = ("forecaster=lstm_dist", "forecaster.units=4", "forecaster.epochs=2",
                "forecaster.batch_size=64")
EXPLAIN = "report.explain=null"  # the shipped default: attributions for a single run
SHIPPED = (RISK_LSTM, PLOTS, EXPLAIN)  # all three, as `debug=default` has them


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject.toml): a worker per core, but none when the run is one test file: its
    tests stay on one worker anyway (--dist loadfile), and workers would only add their startup."""
    files = {str(arg).split("::")[0] for arg in config.args}
    if len(files) == 1 and files.pop().endswith(".py"):
        return 0
    return os.cpu_count() or 1


# The Optuna sweeper is an optional extra in an environment of its own (SQLAlchemy < 2): its tests
# skip without it, saying how to install it; .ci/run runs them (-m optuna) in that environment.
def needs_optuna(test: Callable) -> Callable:
    """Mark `test` as an Optuna sweeper test, skipped (with the install command) without it."""
    absent = importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None
    skip = pytest.mark.skipif(absent, reason=f"the Optuna sweeper is not installed: {OPTUNA_INSTALL}")
    return pytest.mark.optuna(skip(test))


# Written by Python itself or by tools, not by tests: left out of the checkout's snapshot.
NOT_WATCHED = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def tracked_files(root: Path) -> set[str]:
    """The files git tracks under `root` (none outside a git checkout)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    return {str(Path(p)) for p in listed.stdout.split("\0") if p} if listed.returncode == 0 else set()


def tree_state(root: Path, tracked: set[str] | frozenset[str] = frozenset()
               ) -> dict[str, tuple[int, int]]:
    """Every file under `root` (but NOT_WATCHED folders) -> (size, mtime in ns). Files in `tracked`
    count by presence only: a developer may edit the sources while the suite runs, while what a test
    writes (results, ledgers, caches, stray files) is untracked or ignored, so it is watched whole."""
    state: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in NOT_WATCHED and not d.endswith(".egg-info")
                   and not d.startswith(".venv")]  # virtual environments (README: .venv-optuna)
        for name in files:
            path = Path(folder) / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            name = str(path.relative_to(root))
            state[name] = (0, 0) if name in tracked else (info.st_size, info.st_mtime_ns)
    return state


def tree_changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """What differs between two tree_state snapshots, one line per file."""
    made = [f"created {p}" for p in sorted(after.keys() - before.keys())]
    gone = [f"deleted {p}" for p in sorted(before.keys() - after.keys())]
    changed = [f"changed {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return made + gone + changed


@pytest.fixture(scope="session", autouse=True)
def checkout_untouched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Results of every run go to a temporary folder; the session fails if the checkout changed."""
    tracked = tracked_files(ROOT)
    before = tree_state(ROOT, tracked)
    old = os.environ.get(RESULTS_ENV)
    os.environ[RESULTS_ENV] = str(tmp_path_factory.mktemp("session-results"))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(RESULTS_ENV, None)
        else:
            os.environ[RESULTS_ENV] = old
    changes = tree_changes(before, tree_state(ROOT, tracked))
    assert not changes, (f"the tests wrote into the checkout {ROOT} (or something else did while they "
                         "ran): " + "; ".join(changes[:20]))


@pytest.fixture(autouse=True)
def own_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's runs find their results root (ledger, caches, MLflow) in its own tmp folder."""
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))


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
            results: Path | None = None,
            env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python run.py ARGS` in a real process (what a user types); its results root is
    `results`, by default `cwd/results` (cwd is always a temporary folder in tests), `env_extra` in
    its environment."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT),
           RESULTS_ENV: str(results if results is not None else Path(cwd) / "results"), **(env_extra or {})}
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
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT),
           RESULTS_ENV: str(Path(cwd) / "results")}
    env.pop("HYDRA_FULL_ERROR", None)
    done = subprocess.run([sys.executable, "-m", "tests.cli_batch", str(cases), str(results)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return [BatchRun(**row) for row in json.loads(results.read_text())]
