"""Where results live: one anchored results root, run folders named for what they hold, no folder
left by a refused run, and a test suite that never writes into the checkout."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from backtests.cli import _record_in_run_folder
from backtests.data.universe import list_name
from backtests.outputs.locations import RESULTS_ENV, results_root
from backtests.outputs.results import discard_refused_run
from tests.conftest import FAST, ROOT, run_cli, tree_changes, tree_state

DATA = [o for o in FAST if o.startswith("data")]


def test_the_checkout_guard_catches_a_created_changed_or_deleted_file(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "ledger.sqlite").write_text("one trial")
    (tmp_path / "kept.txt").write_text("x")
    (tmp_path / "gone.txt").write_text("x")
    before = tree_state(tmp_path)
    (tmp_path / "results" / "ledger.sqlite").write_text("two trials")  # an ignored file appended to
    (tmp_path / "results" / "runs").mkdir()
    (tmp_path / "results" / "runs" / "metrics.json").write_text("{}")
    (tmp_path / "gone.txt").unlink()
    (tmp_path / "__pycache__").mkdir()  # Python's own bytecode cache is not a test's write
    (tmp_path / "__pycache__" / "x.pyc").write_text("")
    changes = tree_changes(before, tree_state(tmp_path))
    assert changes == [f"created {Path('results/runs/metrics.json')}", "deleted gone.txt",
                       f"changed {Path('results/ledger.sqlite')}"]
    # A tracked source file counts by presence: a developer's edit during the run is not a write.
    tracked = {"kept.txt"}
    before = tree_state(tmp_path, tracked)
    (tmp_path / "kept.txt").write_text("edited")
    assert tree_changes(before, tree_state(tmp_path, tracked)) == []
    (tmp_path / "kept.txt").unlink()
    assert tree_changes(before, tree_state(tmp_path, tracked)) == ["deleted kept.txt"]


def test_every_test_has_its_own_results_root(tmp_path, make_cfg):
    from hydra import compose, initialize_config_dir

    assert os.environ[RESULTS_ENV] == str(tmp_path / "results")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=FAST)  # no paths.results_dir given: the default
    assert cfg.paths.results_dir == str(tmp_path / "results")
    assert cfg.ledger.path == str(tmp_path / "results" / "ledger.sqlite")


def test_results_root_is_the_project_folder_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV)
    monkeypatch.chdir(tmp_path)
    assert results_root() == str(ROOT / "results")
    monkeypatch.setenv(RESULTS_ENV, "elsewhere")  # relative to where it was set: made absolute
    assert results_root() == str(tmp_path / "elsewhere")


def test_runs_from_two_folders_share_one_ledger_and_log_where_it_is(tmp_path):
    results = tmp_path / "shared-results"
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    args = ("ledger.enabled=true", "forecaster=ridge", "report.plots=false", *FAST)
    first = run_cli(*args, cwd=one, results=results)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_cli(*args, cwd=two, results=results)
    assert second.returncode == 0, second.stderr[-2000:]
    log = second.stderr + second.stdout
    lines = [line for line in log.splitlines() if "][INFO]" in line]
    assert f"results: {results} (set by ${RESULTS_ENV})" in lines[0]
    assert f"caches: {results / 'cache'}; ledger: {results / 'ledger.sqlite'}" in lines[2]
    assert "a rerun of earlier settings, not a new trial" in log  # the first run's ledger
    assert "reusing cached walk-forward forecasts" in log  # and its forecast cache
    assert not (one / "results").exists() and not (two / "results").exists()


def test_inspect_and_ledger_runs_are_filed_by_mode_and_ticker_only(tmp_path):
    for mode in ("inspect", "ledger"):
        done = run_cli(f"mode={mode}", *DATA, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        folders = [p.parent for p in (tmp_path / "results" / "runs" / mode).rglob(".hydra")]
        assert len(folders) == 1
        assert folders[0].parent == tmp_path / "results" / "runs" / mode / "SYN"  # synthetic data are SYN


def test_an_inspection_of_a_folder_is_filed_under_the_folder(tmp_path):
    from tests.test_universe import write_market

    prices = write_market(tmp_path / "prices", ["AAA", "BBB"])
    done = run_cli("mode=inspect", "data=csv", f"data.path={prices}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "results" / "runs" / "inspect" / "folder-prices").is_dir()


def test_a_refused_run_leaves_no_folder(tmp_path):
    done = run_cli("data=csv", f"data.path={tmp_path / 'MSFTT.csv'}", cwd=tmp_path)  # a typo
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    runs = tmp_path / "results" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.rglob("*"))


def test_a_run_that_failed_during_work_keeps_its_folder_and_error(tmp_path):
    runs = tmp_path / "results" / "runs"
    folder = runs / "backtest" / "lstm_momentum" / "MSFT" / "stamp"
    (folder / ".hydra").mkdir(parents=True)
    (folder / "predictions.csv").write_text("date,forecast\n")  # work done before the failure
    cfg = OmegaConf.create({"paths": {"output_dir": str(folder), "results_dir": str(runs.parent)}})
    _record_in_run_folder(cfg, RuntimeError("disk full"), refused=False)
    assert "RuntimeError: disk full" in (folder / "error.txt").read_text()
    assert not discard_refused_run(folder, runs)  # files of its own: never removed
    empty = runs / "backtest" / "lstm_momentum" / "MSFTT" / "stamp"
    (empty / ".hydra").mkdir(parents=True)
    (empty / "run.log").write_text("")
    assert discard_refused_run(empty, runs)
    assert not (runs / "backtest" / "lstm_momentum" / "MSFTT").exists() and folder.exists()


@pytest.mark.parametrize(("tickers", "name"), [
    (["msft", "GOOG", "AAPL", "MSFT"], "AAPL+GOOG+MSFT"),
    (["A", "B", "C", "D", "E"], None),
])
def test_a_ticker_list_is_named_after_its_members(tickers, name):
    got = list_name(tickers)
    if name is not None:
        assert got == name
    else:
        assert re.fullmatch(r"list-5-[0-9a-f]{8}", got)
        assert got == list_name(list(reversed(tickers))) != list_name(["A", "B", "C", "D", "F"])


def test_a_list_universe_folder_carries_its_members(tmp_path):
    done = run_cli("mode=inspect", "universe.tickers=[MSFT,AAPL]", *DATA, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "results" / "runs" / "inspect" / "universe-AAPL+MSFT").is_dir()
