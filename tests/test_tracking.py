"""logger=mlflow: sweeps as parent runs with their jobs as children, read back through MLflow."""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import re
import sys
from pathlib import Path

import pytest

from backtests.errors import UserError
from backtests.tracking.mlflow_logger import flatten, metric_values
from tests.builders import build
from tests.conftest import EXPLAIN, FAST, PLOTS, run_cli
from tests.test_sweep import sweep
from tests.test_universe import CSV, write_market

mlflow = pytest.importorskip("mlflow", reason="logger=mlflow needs the optional extra: "
                             'pip install -c constraints.txt -e ".[mlflow]" (.ci/run installs it)')


@pytest.mark.slow  # a sweep of subprocesses importing MLflow and TensorFlow: ~17 s on 2 cores
def test_a_joblib_sweep_is_a_parent_run_with_its_jobs_as_children(tmp_path):
    done = sweep(tmp_path, "hydra/launcher=joblib", "logger=mlflow",
                 "strategy=lstm_momentum,lstm_long_short")  # both log forecast metrics
    assert done.returncode == 0, done.stderr[-3000:]
    client = mlflow.tracking.MlflowClient(f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("backtests")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "sweep"
    assert parent.data.metrics["complete"] == 2 and parent.data.metrics["ledger_trials"] == 2
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {"summary.csv",
                                                                         "summary.html"}
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        tags = child.data.tags
        assert tags["sweep"] == "sweep" and tags["mode"] == "backtest" and tags["ticker"] == "SYN"
        assert len(tags["data_fingerprint"]) == 16 and tags["git_commit"]
        params = child.data.params
        assert params["forecaster.window"] == "10" and params["ticker"] == "SYN"
        assert params["strategy._target_"].startswith("strategies.")
        metrics = child.data.metrics
        for key in ("strategy.sharpe", "benchmark.total_return", "forecast.theil_u",
                    "trials.trials", "trials.deflated_sharpe"):
            assert key in metrics
        folds = client.get_metric_history(child.info.run_id, "forecast.per_fold.mse")
        assert [m.step for m in sorted(folds, key=lambda m: m.step)] == list(range(len(folds)))
        assert len(folds) >= 2
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"report.html", "metrics.json", "returns.csv", "trades.csv"} <= artifacts


def _prepare(uri: str, barrier) -> None:
    barrier.wait()  # every job opens the new store at the same moment
    build("logger/mlflow", tracking_uri=uri, experiment="race", artifact_location=None).prepare()


@pytest.mark.slow  # six processes importing MLflow at once: a race check, not a feature check
def test_many_jobs_opening_a_new_store_at_once_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(6)
    jobs = [ctx.Process(target=_prepare, args=(uri, barrier)) for _ in range(6)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(180)
    assert [job.exitcode for job in jobs] == [0] * 6
    experiments = mlflow.tracking.MlflowClient(uri).search_experiments()
    assert [e.name for e in experiments].count("race") == 1


def test_config_and_metrics_become_params_and_metrics():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]",
                                                              "d": "None"}
    found = metric_values({"strategy": {"sharpe": 1.5, "uses_forecast": True, "x": float("nan")},
                           "forecast": {"persistence": {"mse": 0.1}, "verdict": "v",
                                        "per_fold": [{"mse": 2}, {"mse": 3, "note": "n"}]},
                           "per_ticker": {"^GSPC": {"ic": 0.1}}, "trials": {"id": 7, "trials": 3}})
    assert found == {"strategy.sharpe": [(0, 1.5)], "strategy.uses_forecast": [(0, 1.0)],
                     "forecast.persistence.mse": [(0, 0.1)],
                     "forecast.per_fold.mse": [(0, 2.0), (1, 3.0)],
                     "per_ticker._GSPC.ic": [(0, 0.1)], "trials.trials": [(0, 3.0)]}


def numeric_leaves(node, prefix: str = "") -> set[str]:
    """The names metrics.json's numbers must have in MLflow (list positions are steps, not names)."""
    if isinstance(node, dict):
        return set().union(*(numeric_leaves(v, f"{prefix}{k}.") for k, v in node.items()))
    if isinstance(node, list):
        return set().union(*(numeric_leaves(v, prefix) for v in node))
    number = isinstance(node, bool) or (isinstance(node, (int, float)) and math.isfinite(node))
    return {re.sub(r"[^\w\-. :/]", "_", prefix.rstrip("."))} if number else set()


def _logged(client, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        found |= _logged(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def _only_run(results: Path):
    client = mlflow.tracking.MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("backtests").experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def _check_complete(client, run, folder: Path) -> None:
    """Every file of the folder is an artifact; every number of metrics/trials.json a metric."""
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert _logged(client, run.info.run_id) == files
    expected = numeric_leaves(json.loads((folder / "metrics.json").read_text()))
    if (folder / "trials.json").exists():
        expected |= numeric_leaves(json.loads((folder / "trials.json").read_text()), "trials.")
    assert set(run.data.metrics) == expected - {"trials.id"}
    assert run.data.params and run.info.status == "FINISHED"


def test_a_run_logs_every_file_of_its_folder_and_every_number_of_its_metrics(tmp_path):
    done = run_cli(*FAST, "logger=mlflow", PLOTS, EXPLAIN, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(re.findall(r"results in (\S+)", done.stderr + done.stdout)[-1])
    client, run = _only_run(tmp_path / "results")
    _check_complete(client, run, folder)
    logged = _logged(client, run.info.run_id)
    # What the report links to and the first version left out: risk and attribution files.
    for name in ("var.csv", "var_backtests.csv", "risk.png", "importance.csv", "report.html"):
        assert name in logged, name
    assert any(key.startswith("risk.") for key in run.data.metrics)
    assert "mlflow.parentRunId" not in run.data.tags and "child of" not in done.stderr  # no sweep


@pytest.mark.slow  # a universe run in a subprocess with MLflow: ~12 s on 2 cores
def test_a_universe_run_is_tracked_too(tmp_path):
    prices = write_market(tmp_path / "prices")
    done = run_cli(FAST[0], *CSV, f"data.path={prices}", "universe=folder", "universe.n_jobs=1",
                   "strategy=topk", "strategy.k=2", "forecaster=ridge", "report.plots=false",
                   "risk_model.methods=[historical,ewma]", "logger=mlflow", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(re.findall(r"results in (\S+)", done.stderr + done.stdout)[-1])
    client, run = _only_run(tmp_path / "results")
    _check_complete(client, run, folder)
    assert run.data.tags["mode"] == "universe" and "strategy.sharpe" in run.data.metrics
    assert run.data.tags["strategy"] == "topk" and run.data.tags["data_fingerprint"]
    assert any(key.startswith("sentiment.") for key in run.data.metrics)


def test_without_mlflow_installed_it_is_one_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(UserError, match="needs the mlflow package") as raised:
        build("logger/mlflow", tracking_uri="sqlite:///x.db", artifact_location=None).client()
    assert ".[mlflow]" in raised.value.hint


def test_a_sweep_with_a_failed_job_closes_its_parent_run_as_failed(tmp_path):
    done = sweep(tmp_path, "logger=mlflow", "data.bars=420,100")  # 100 bars: too short, fails
    assert done.returncode == 1, done.stderr[-3000:]
    client = mlflow.tracking.MlflowClient(f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("backtests").experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.status == "FAILED" and parent.data.metrics["complete"] == 1
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {"summary.csv",
                                                                         "summary.html"}
    assert [r.info.status for r in runs if r is not parent] == ["FINISHED"]


def test_per_fold_metrics_are_stepped_by_their_fold_not_their_position():
    from backtests.tracking.mlflow_logger import metric_values

    metrics = {"forecast": {"per_fold": [{"fold": 0, "mse": 1.0}, {"fold": 2, "mse": 3.0}]},
               "levels": [0.95, 0.99]}
    found = metric_values(metrics)
    assert found["forecast.per_fold.mse"] == [(0, 1.0), (2, 3.0)]  # fold 1 was left out
    assert found["levels"] == [(0, 0.95), (1, 0.99)]
