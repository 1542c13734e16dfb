"""Bad input ends in seconds with one `error:` line, one `hint:` line, exit status 2 and no traceback.

The battery runs `python run.py ...` commands: a few in real processes with Python's import timing
switched on, the rest one after another in one fresh process through the same entry point
(conftest.run_cli_batch); either way each run proves it stopped before TensorFlow was imported.
"""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from omegaconf import open_dict

from backtests import cli
from backtests.data.synthetic import synthetic_bars
from backtests.errors import UserError
from backtests.settings.validate import validate
from tests.conftest import FAST, ROOT, BatchRun, run_cli, run_cli_batch

BARS = synthetic_bars(80, seed=1)
DAY = {i: BARS.index[i].date().isoformat() for i in (5, 7, 9)}


def _write_files(folder: Path) -> None:
    BARS.to_csv(folder / "good.csv")
    (folder / "empty.csv").write_text("")
    (folder / "garbage.csv").write_bytes(np.random.default_rng(0).bytes(4000))
    BARS.drop(columns=["Close"]).to_csv(folder / "no_close.csv")
    text = BARS.astype(object)
    text.iloc[5, text.columns.get_loc("Close")] = "twelve"
    text.to_csv(folder / "text.csv")
    negative = BARS.copy()
    negative.iloc[7, negative.columns.get_loc("Open")] = -3.0
    negative.to_csv(folder / "negative.csv")
    inverted = BARS.copy()
    inverted.iloc[9, inverted.columns.get_loc("High")] = inverted["Low"].iloc[9] - 1
    inverted.to_csv(folder / "inverted.csv")


# name -> (arguments, words the error line must hold)
BATTERY: dict[str, tuple[list[str], list[str]]] = {
    "bad ticker": (["ticker=MS$FT"], ["ticker='MS$FT' is not a ticker symbol"]),
    "path-like ticker": (["ticker=../../outside"], ["ticker='../../outside'", "not a ticker symbol"]),
    "missing file": (["data=csv", "data.path={d}/missing.csv"], ["missing.csv", "does not exist"]),
    "empty file": (["data=csv", "data.path={d}/empty.csv"], ["empty.csv", "is empty"]),
    "garbage file": (["data=csv", "data.path={d}/garbage.csv"], ["garbage.csv", "not a text CSV"]),
    "missing column": (["data=csv", "data.path={d}/no_close.csv"], ["no_close.csv", "lacks", "Close"]),
    "text in a price": (["data=csv", "data.path={d}/text.csv"],
                        ["text.csv", f"Close on {DAY[5]}", "'twelve'", "not a number"]),
    "negative price": (["data=csv", "data.path={d}/negative.csv"],
                       ["negative.csv", f"Open on {DAY[7]}", "not a positive price"]),
    "High below Low": (["data=csv", "data.path={d}/inverted.csv", "data.quality.impossible_bars=fail"],
                       ["inverted.csv", "High below Low: 1", f"({DAY[9]})"]),
    "csv without path": (["data=csv"], ["data.path is not set"]),
    "inverted dates": (["data.start=2020-01-01", "data.end=2019-01-01"],
                       ["data.start=2020-01-01 is not before data.end=2019-01-01"]),
    "negative window": (["forecaster.window=-5"], ["forecaster.window=-5", "whole number >= 1"]),
    "negative commission": (["broker.commission=-0.001"], ["broker.commission=-0.001"]),
    "zero cash": (["broker.cash=0"], ["broker.cash=0", "> 0"]),
    "unknown strategy": (["strategy=nope"], ["there is no strategy called 'nope'"]),
    "misspelt setting": (["forecaster.windw=3"], ["forecaster.windw is not a setting"]),
    "unparsable override": (["ticker=[MSFT"], ["cannot read the override 'ticker=[MSFT'"]),
    "sweep without -m": (["ticker=MSFT,GOOG"], ["ticker=MSFT,GOOG holds several values"]),
    "too little history": (["data.bars=200"], ["has 200 bars", "needs at least", "to train",
                                               "one test fold"]),
}
HINTS = {"unknown strategy": "lstm_momentum", "sweep without -m": "add -m (python run.py -m",
         "misspelt setting": "did you mean forecaster.window?",
         "too little history": "walkforward.initial_train"}


# Real processes: a mistake Hydra catches, one our checks catch, one found after the data is read.
REAL = ("unknown strategy", "zero cash", "too little history")


def _real(args: list[str], root: Path) -> BatchRun:
    """`python run.py ARGS` in its own process with the import log on (read from its stderr)."""
    done = run_cli(*args, cwd=root, timeout=120, env_extra={"PYTHONPROFILEIMPORTTIME": "1"})
    imports = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    deep = not imports or any("tensorflow" in line or "keras" in line for line in imports)
    stderr = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("import time:"))
    return BatchRun(done.returncode, done.stdout, stderr, deep)


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    """Every bad command's result: REAL ones in their own processes, beside one batch process."""
    root = tmp_path_factory.mktemp("battery")
    _write_files(root)
    base = [*FAST, "report.plots=false", f"paths.results_dir={root / 'results'}"]

    def command(name: str) -> list[str]:
        args, _ = BATTERY[name]
        chosen = {a.split("=")[0] for a in args}
        shrink = [o for o in base if o.split("=")[0] not in chosen
                  and not (o.startswith("data") and any(a.startswith("data=") for a in args))]
        return [*shrink, *(a.format(d=root) for a in args)]

    batched = [name for name in BATTERY if name not in REAL]
    # Last in the batch, a control: a command that does import TensorFlow (as its mode).
    control = ["mode._target_=tensorflow.constant", "data=synthetic", f"paths.results_dir={root / 'control'}"]
    with ThreadPoolExecutor(max_workers=len(REAL) + 1) as pool:
        reals = {name: pool.submit(_real, command(name), root) for name in REAL}
        batch = pool.submit(run_cli_batch, [*(command(name) for name in batched), control], root)
        results = {name: future.result() for name, future in reals.items()}
        results.update(zip([*batched, CONTROL], batch.result()))
    return root, results


CONTROL = "control: imports TensorFlow"


def test_the_batch_sees_a_command_that_imports_tensorflow(battery):
    _, results = battery
    assert results[CONTROL].tensorflow  # so a command before it that imported TensorFlow would show


@pytest.mark.parametrize("name", list(BATTERY))
def test_bad_input_is_one_clear_line_before_tensorflow(battery, name):
    root, results = battery
    done = results[name]
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    assert [line.split(":")[0] for line in lines] == ["error", "hint"], lines
    for word in BATTERY[name][1]:
        assert word in lines[0], (word, lines[0])
    assert HINTS.get(name, "") in lines[1]
    assert not done.tensorflow


def test_path_like_ticker_creates_no_folder(battery):
    root, _ = battery
    made = [p for p in root.rglob("*") if "outside" in p.name]
    assert not made and not (root.parent / "outside").exists()


def test_bad_settings_leave_no_run_folder(battery):
    root, results = battery
    runs = root / "results" / "runs"
    # Failures found after the run started but before it wrote anything (a price file that is not
    # there, too little history) are refusals too: their folder is removed, so no typo names one.
    late = [n for n, (args, _) in BATTERY.items() if any(a.startswith("data.path=") for a in args)]
    late.append("too little history")
    assert all(results[n].returncode == 2 for n in late)
    folders = [p.parent for p in runs.rglob(".hydra")] if runs.exists() else []
    assert folders == []


def test_path_like_ticker_in_a_sweep_is_refused_before_its_folder(tmp_path):
    done = run_cli("-m", "ticker=../escape,MSFT", "data=synthetic", f"paths.results_dir={tmp_path}",
                   cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: ticker='../escape'")
    assert not list(tmp_path.rglob("escape*"))


def test_a_bug_keeps_its_traceback(tmp_path):
    done = run_cli("mode._target_=operator.truediv", "data=synthetic", cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "TypeError" in done.stderr and "This is a bug" in done.stderr


def test_full_error_shows_the_traceback_when_asked(tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "broker.cash=0"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "broker.cash=0" in done.stderr


# In-process checks of the rules table: fast, and they never import TensorFlow.

@pytest.mark.parametrize("overrides", [
    ["forecaster.window=0"], ["forecaster.epochs=-1"], ["forecaster.epochs=0"],
    ["forecaster.warm_epochs=-1"], ["forecaster.batch_size=0"], ["forecaster.units=0"],
    ["forecaster.units=many"], ["forecaster.dropout=-0.1"], ["forecaster.dropout=1.0"],
    ["forecaster.learning_rate=0"], ["walkforward.val_fraction=1.0"],
    ["walkforward.initial_train=0"], ["walkforward.retrain_every=0"], ["walkforward.gap=0"],
    ["walkforward.mode=rolling"], ["walkforward.warm_start=maybe"], ["broker.invest_fraction=0"],
    ["broker.invest_fraction=1.5"], ["broker.commission_type=flat"], ["broker.per_share=-1"],
    ["broker.slippage=-0.1"], ["broker.cash=-5"], ["broker.commission=-0.1"], ["risk.stop_loss=-0.1"],
    ["risk.stop_loss=1.0"], ["risk=default", "risk.atr_period=0"], ["risk.vol_target=0"],
    ["features.columns.volatility.window=1"], ["forecaster=ridge", "forecaster.alpha=-1"],
    ["report.periods_per_year=0"], ["data.bars=1"],
    ["data.start=someday"], ["seed=-1"], ["seed=true"], ["features.columns.rsi.period=0"],
    ["features.columns.macd.fast=40"], ["strategy.exit=0.01"], ["strategy.min_hold=-1"],
    ["strategy=sma_cross", "strategy.fast=300"], ["strategy=lstm_long_short", "strategy.threshold=-1"],
    ["risk.stop_loss=1.5"], ["risk.take_profit=0"], ["risk.vol_lookback=1"],
    ["risk=default", "risk.trailing_stop=0"], ["risk=conservative", "risk.max_position=1.5"],
    ["risk=conservative", "risk.cooldown_days=0"], ["mode=audit", "mode.cutoffs=0"],
    ["data=synthetic", "data.vol_persistence=0.96"],
])
def test_each_rule_refuses_its_bad_value(make_cfg, overrides):
    with pytest.raises(UserError) as info:
        validate(make_cfg(*overrides))
    key = overrides[-1].split("=")[0]
    assert info.value.message.startswith(key) and info.value.hint
    assert "\n" not in info.value.message


@pytest.mark.parametrize("overrides", [
    [], ["strategy=buy_and_hold"], ["strategy=sma_cross"], ["strategy=lstm_long_short"],
    ["risk=default"], ["risk=conservative"], ["forecaster=ridge"], ["mode=audit"], ["mode=predict"],
    ["data=csv", "data.path=/nowhere"], ["data=yfinance"], ["walkforward.mode=sliding"],
    ["risk.stop_loss=null", "strategy.confirm_sma=50", "data.end=2015-01-01"],
])
def test_shipped_configs_pass(make_cfg, overrides):
    validate(make_cfg(*overrides))


def test_a_config_without_the_risk_group_passes(make_cfg):
    cfg = make_cfg()
    with open_dict(cfg):
        del cfg["risk"]
    validate(cfg)


def test_cli_main_reports_and_exits_2_without_importing_tensorflow(make_cfg, capsys):
    code = ("import sys\nfrom tests.test_errors import _cli_in_process\n_cli_in_process()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout.strip() == "tensorflow imported: False"
    assert done.stderr.startswith("error: broker.cash=0")


def _cli_in_process() -> None:
    """Run cli.main on a bad config in this process and say whether TensorFlow got imported."""
    import atexit

    from hydra import compose, initialize_config_dir

    atexit.register(lambda: print(f"tensorflow imported: {'tensorflow' in sys.modules}"))
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*FAST, "broker.cash=0"])
    cli.main(cfg)


def test_a_comma_list_of_tickers_is_pointed_at_a_universe(battery):
    """Following the hint must work: a ticker list is a universe (ticker=[A,B] is no symbol)."""
    _, results = battery
    hint = results["sweep without -m"].stderr.splitlines()[1]
    assert "universe.tickers=[MSFT,GOOG]" in hint and "ticker=[MSFT,GOOG]" not in hint.replace(
        "universe.tickers=[MSFT,GOOG]", "")
