"""A strategy that never reads the forecast (uses_forecast False) trains no forecaster, yet is tested
over the same period, against the same benchmark, as a strategy that does."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from backtests.modes.experiment import run_experiment
from backtests.stages import forecasts as forecast_stage

QUICK = ("risk_model.enabled=false", "report.explain=false")


def _run(make_cfg, tmp_path, name: str, *overrides: str) -> tuple[dict, pd.DataFrame, str]:
    cfg = make_cfg(*QUICK, *overrides)
    cfg.paths.output_dir = str(tmp_path / name)
    run_experiment(cfg)
    out = tmp_path / name
    return (json.loads((out / "metrics.json").read_text()), pd.read_csv(out / "returns.csv"),
            (out / "report.html").read_text())


@pytest.mark.parametrize("strategy", [["strategy=buy_and_hold"],
                                      ["strategy=sma_cross", "strategy.fast=5", "strategy.slow=20"]])
def test_a_prices_only_strategy_trains_nothing_and_keeps_the_test_period(make_cfg, tmp_path,
                                                                         monkeypatch, strategy):
    reader, reader_returns, _ = _run(make_cfg, tmp_path, "reader", "forecaster=ridge")

    def no_training(*args, **kwargs):
        raise AssertionError("a forecaster was trained for a strategy that reads no forecast")

    monkeypatch.setattr(forecast_stage, "walk_forward_forecasts", no_training)
    metrics, returns, report = _run(make_cfg, tmp_path, "prices", *strategy)
    assert metrics["test_period"] == reader["test_period"]
    assert returns["benchmark"].equals(reader_returns["benchmark"])
    assert returns["date"].equals(reader_returns["date"])
    assert metrics["strategy"]["uses_forecast"] is False
    assert metrics["forecast"]["computed"] is False and metrics["forecast"]["per_fold"] == []
    assert "Forecast not computed" in metrics["forecast"]["verdict"]
    assert "Forecast not computed" in report and "none trained" in report
    assert not (tmp_path / "prices" / "forecast_skill.png").exists()
    predictions = pd.read_csv(tmp_path / "prices" / "predictions.csv")
    read = pd.read_csv(tmp_path / "reader" / "predictions.csv")
    assert predictions["forecast"].isna().all()
    assert predictions[["date", "actual", "fold"]].equals(read[["date", "actual", "fold"]])
