"""The locked test period: evaluation.holdout keeps every date from it out of runs, sweep jobs and
Optuna trials; mode=holdout opens it for one setting, as a plain run would score it, on the record."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import open_dict

from backtests.data.synthetic import synthetic_bars
from backtests.errors import UserError
from backtests.modes.experiment import run_experiment
from backtests.modes.holdout import run_holdout as open_holdout
from backtests.modes.ledger import run_ledger
from backtests.outputs.holdout_figures import period_figures
from backtests.pipeline.metrics import performance
from tests.conftest import FAST, needs_optuna, run_cli

HOLDOUT = "2011-04-02"  # a Saturday: no bar carries the date itself, only the setting does
BARS = 420  # FAST's synthetic market: 2010-01-04 to mid-August 2011
RIDGE = ("forecaster=ridge", f"evaluation.holdout={HOLDOUT}")
DATE = re.compile(rb"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
TEXT = {".csv", ".json", ".html", ".log", ".yaml", ".txt", ".md"}


def market_dates_after(root: Path, holdout: str = HOLDOUT) -> list[str]:
    """Every date after `holdout` and within the synthetic market (later ones are wall-clock
    stamps, not market data) written in any text file under `root`, with the file."""
    first, last = pd.Timestamp(holdout), synthetic_bars(BARS, seed=42).index[-1]
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in TEXT:
            continue
        for match in DATE.finditer(path.read_bytes()):
            day = pd.Timestamp(match.group().decode())
            if first < day <= last:
                found.append(f"{path.relative_to(root)}: {day.date()}")
                break
    return found


def test_no_file_of_a_run_holds_a_date_after_the_holdout(make_cfg, tmp_path):
    cfg = make_cfg(*RIDGE, "risk_model.methods=[historical]")
    run_experiment(cfg)
    assert (tmp_path / "run" / "predictions.csv").is_file()
    assert market_dates_after(tmp_path) == []
    returns = pd.read_csv(tmp_path / "run" / "returns.csv", index_col=0, parse_dates=True)
    assert returns.index[-1] < pd.Timestamp(HOLDOUT)


@pytest.mark.slow  # a two-job sweep in a subprocess: ~15 s
def test_no_file_of_a_sweep_job_holds_a_date_after_the_holdout(tmp_path):
    done = run_cli("-m", *FAST, *RIDGE, "strategy.entry=0.0,0.001", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((tmp_path / "sweep").glob("*/metrics.json"))) == 2
    assert market_dates_after(tmp_path) == []
    # then open the holdout for job 1: its overrides, composed again
    opened = run_cli("mode=holdout", f"mode.sweep={tmp_path / 'sweep'}", "mode.job=1", cwd=tmp_path)
    assert opened.returncode == 0, opened.stderr[-3000:]
    result = json.loads(next((tmp_path / "results").glob("runs/holdout/**/holdout.json")).read_text())
    assert "strategy.entry=0.001" in result["overrides"] and "job 1_" in result["chosen_from"]
    assert result["trials_before"] == 2 and result["opening"] == 1
    assert result["holdout_period"]["first"] > HOLDOUT


@needs_optuna
@pytest.mark.slow  # two Optuna trials of the tiny LSTM in a subprocess: ~30 s
def test_no_file_of_an_optuna_trial_holds_a_date_after_the_holdout(tmp_path):
    done = run_cli("hparams_search=optuna", *FAST, f"evaluation.holdout={HOLDOUT}",
                   "report.plots=false", "hydra.sweeper.n_trials=2",
                   f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "sweep" / "optimization_results.yaml").is_file()
    assert len(list((tmp_path / "sweep").glob("*/metrics.json"))) == 2
    assert market_dates_after(tmp_path) == []
    opened = run_cli("mode=holdout", f"mode.sweep={tmp_path / 'sweep'}", cwd=tmp_path)  # the best
    assert opened.returncode == 0, opened.stderr[-3000:]
    result = json.loads(next((tmp_path / "results").glob("runs/holdout/**/holdout.json")).read_text())
    assert result["chosen_from"].endswith("Optuna best")
    assert any(o.startswith("strategy.entry=") for o in result["overrides"])


def run_holdout(cfg, sweep: str | None = None, job: int | None = None) -> None:
    """mode=holdout as conf/mode/holdout.yaml calls it (no sweep: the command line's setting)."""
    open_holdout(cfg, sweep=sweep, job=job)


def _in(cfg, folder: Path):
    with open_dict(cfg):
        cfg.paths.output_dir = str(folder)
    return cfg


def test_mode_holdout_equals_a_plain_run_over_the_holdout_and_the_selection_run_before_it(
        make_cfg, tmp_path):
    run_holdout(_in(make_cfg(*RIDGE, "mode=holdout"), tmp_path / "opened"))
    opened = json.loads((tmp_path / "opened" / "holdout.json").read_text())
    plain = tmp_path / "plain"
    run_experiment(_in(make_cfg("forecaster=ridge"), plain))  # no lock: all the data
    holdout = pd.Timestamp(HOLDOUT)
    assert opened["holdout_period"] == period_figures(plain, holdout, None)
    returns = pd.read_csv(plain / "returns.csv", index_col=0, parse_dates=True).loc[HOLDOUT:]
    assert opened["holdout_period"]["first"] == str(returns.index[0].date()) > HOLDOUT
    assert opened["holdout_period"]["strategy"] == pytest.approx(performance(returns["strategy"]))
    # the selection side is what the locked run itself reported
    selected = tmp_path / "selected"
    run_experiment(_in(make_cfg(*RIDGE), selected))
    metrics = json.loads((selected / "metrics.json").read_text())
    assert opened["selection"]["strategy"]["sharpe"] == pytest.approx(metrics["strategy"]["sharpe"])
    assert opened["selection"]["last"] < HOLDOUT
    assert opened["trials_before"] == 0  # opened before any trial on the selection data


def test_a_second_opening_is_counted_and_marked_on_every_page(make_cfg, tmp_path):
    selection = make_cfg(*RIDGE)
    run_experiment(_in(selection, tmp_path / "selection"))  # one trial on the selection period
    run_holdout(_in(make_cfg(*RIDGE, "mode=holdout"), tmp_path / "first"))
    run_holdout(_in(make_cfg(*RIDGE, "mode=holdout", "strategy.entry=0.001"), tmp_path / "second"))
    first = json.loads((tmp_path / "first" / "holdout.json").read_text())
    second = json.loads((tmp_path / "second" / "holdout.json").read_text())
    assert (first["opening"], first["reopened"], first["trials_before"]) == (1, False, 1)
    assert (second["opening"], second["reopened"]) == (2, True)
    assert 'id="reopened"' not in (tmp_path / "first" / "holdout.html").read_text()
    for page in ("holdout.html", "report.html"):
        assert 'id="reopened"' in (tmp_path / "second" / page).read_text()
    run_ledger(_in(make_cfg(*RIDGE, "mode=ledger"), tmp_path / "ledger"), reset=False)
    listed = pd.read_csv(tmp_path / "ledger" / "holdout_openings.csv")
    assert list(listed["number"]) == [1, 2] and list(listed["reopened"]) == [False, True]


def test_mode_holdout_refuses_what_it_cannot_open(make_cfg, tmp_path):
    with pytest.raises(UserError, match="needs evaluation.holdout"):
        run_holdout(make_cfg("forecaster=ridge", "mode=holdout"))
    with pytest.raises(UserError, match="no holdout to open"):
        run_holdout(make_cfg("forecaster=ridge", "mode=holdout", "evaluation.holdout=2030-01-01"))
    with pytest.raises(UserError, match="no mode.sweep"):
        run_holdout(make_cfg(*RIDGE, "mode=holdout"), job=3)
    with pytest.raises(UserError, match="has no job 7"):
        run_holdout(make_cfg(*RIDGE, "mode=holdout"), sweep=str(tmp_path), job=7)
    assert not (tmp_path / "run").exists()  # refused before any run wrote anything


def test_a_holdout_on_a_trading_day_leaves_that_day_out_too(make_cfg):
    from backtests.stages.markets import load_markets

    locked = load_markets(make_cfg("evaluation.holdout=2011-04-04"))  # a Monday with a bar
    full = load_markets(make_cfg())
    assert pd.Timestamp("2011-04-04") in full.market.frame.index
    assert locked.market.frame.index[-1] == pd.Timestamp("2011-04-01")
    assert locked.fingerprint != full.fingerprint  # the ledger sees the selection data apart
