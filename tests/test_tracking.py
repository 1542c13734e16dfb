"""logger=mlflow: sweeps as parent runs with their jobs as children, read back through MLflow."""
from __future__ import annotations

import multiprocessing as mp
import sys

import pytest

from backtests.errors import UserError
from backtests.tracking.mlflow_logger import MlflowLogger, flatten, metric_values
from tests.test_sweep import sweep

mlflow = pytest.importorskip("mlflow", reason="logger=mlflow needs the optional extra: "
                             'pip install -c constraints.txt -e ".[mlflow]" (.ci/run installs it)')


def test_a_joblib_sweep_is_a_parent_run_with_its_jobs_as_children(tmp_path):
    done = sweep(tmp_path, "hydra/launcher=joblib", "logger=mlflow",
                 "strategy=lstm_momentum,sma_cross")
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
        assert tags["sweep"] == "sweep" and tags["mode"] == "backtest" and tags["ticker"] == "MSFT"
        assert len(tags["data_fingerprint"]) == 16 and tags["git_commit"]
        params = child.data.params
        assert params["forecaster.window"] == "10" and params["ticker"] == "MSFT"
        assert params["strategy._target_"].startswith("strategies.")
        metrics = child.data.metrics
        for key in ("strategy.sharpe", "benchmark.total_return", "forecast.theil_u",
                    "trials.trials", "trials.deflated_sharpe"):
            assert key in metrics
        folds = client.get_metric_history(child.info.run_id, "forecast.fold_mse")
        assert [m.step for m in sorted(folds, key=lambda m: m.step)] == list(range(len(folds)))
        assert len(folds) >= 2
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"report.html", "metrics.json", "returns.csv", "trades.csv"} <= artifacts


def _prepare(uri: str, barrier) -> None:
    barrier.wait()  # every job opens the new store at the same moment
    MlflowLogger(uri, "race").prepare()


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
                           "forecast": {"persistence": {"mse": 0.1}, "per_fold": [1], "verdict": "v"},
                           "trials": {"id": 7, "trials": 3}})
    assert found == {"strategy.sharpe": 1.5, "strategy.uses_forecast": 1.0,
                     "forecast.persistence.mse": 0.1, "trials.trials": 3.0}


def test_without_mlflow_installed_it_is_one_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(UserError, match="needs the mlflow package") as raised:
        MlflowLogger("sqlite:///x.db").client()
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
