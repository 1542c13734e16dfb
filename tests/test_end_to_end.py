"""The whole path through `run.py` on a short synthetic market writes every artifact."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtests import cli
from backtests.data import yahoo
from backtests.pipeline.metrics import performance
from tests.conftest import FAST, SHIPPED, run_cli

ARTIFACTS = ["tearsheet.html", "metrics.json", "returns.csv", "predictions.csv", "trades.csv",
             "forecast.png", "forecast_skill.png", "forecast_folds.csv", "run_info.json",
             "importance.csv", "importance_lags.csv", "importance_lag_blocks.csv",
             "importance_folds.csv", "importance.png", "importance_lags.png", "importance_drift.png",
             "trials.json"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    shrink = [*FAST, "report.tearsheet=true", *SHIPPED]  # every part a run can write
    done = run_cli(*shrink, "data.bars=520", f"hydra.run.dir={root / 'run'}",
                   f"paths.cache_dir={root / 'cache'}", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "run", done


def test_every_artifact_is_written(run_folder):
    folder, _ = run_folder
    for name in ARTIFACTS:
        assert (folder / name).stat().st_size > 0, name
    html = (folder / "tearsheet.html").read_text()
    assert "<svg" in html and "SYN" in html and "lstm_momentum" in html
    assert (folder / "forecast.png").read_bytes()[:4] == b"\x89PNG"


def test_metrics_agree_with_returns_csv(run_folder):
    folder, _ = run_folder
    metrics = json.loads((folder / "metrics.json").read_text())
    returns = pd.read_csv(folder / "returns.csv", index_col="date", parse_dates=True)
    assert list(returns.columns) == ["strategy", "benchmark"]
    for column in ("strategy", "benchmark"):
        direct = performance(returns[column])
        for key, value in direct.items():
            assert metrics[column][key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        for key in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility",
                    "time_in_market", "trades"):
            assert key in metrics[column]
    for key in ("mse", "mae", "rmse", "mape", "directional_accuracy"):
        assert key in metrics["forecast"] and key in metrics["forecast"]["persistence"]
    assert metrics["data"]["rows"] == 520 and metrics["data"]["source"].startswith("synthetic")


def test_files_have_the_documented_columns(run_folder):
    folder, _ = run_folder
    predictions = pd.read_csv(folder / "predictions.csv")
    assert list(predictions.columns[:3]) == ["date", "forecast", "actual"]
    assert {"predicted_next_close", "actual_next_close"} <= set(predictions.columns)
    trades = pd.read_csv(folder / "trades.csv")
    assert list(trades.columns) == ["entry_date", "exit_date", "direction", "size", "entry_price",
                                    "exit_price", "pnl", "pnl_pct", "exit_reason"]
    returns = pd.read_csv(folder / "returns.csv")
    assert returns["date"].iloc[0] == predictions["date"].iloc[0]  # same out-of-sample dates


def test_benchmark_follows_the_price_path(run_folder):
    folder, _ = run_folder
    returns = pd.read_csv(folder / "returns.csv", index_col="date", parse_dates=True)
    predictions = pd.read_csv(folder / "predictions.csv", index_col="date", parse_dates=True)
    price = predictions["close"].pct_change().iloc[2:]
    held = returns["benchmark"].iloc[2:]  # from the second close on, fully invested
    assert np.corrcoef(price, held)[0, 1] > 0.999


def test_stage_log_lines_with_timings(run_folder):
    _, done = run_folder
    for stage in ("check settings: done in", "load prices: done in", "forecasts: done in",
                  "risk forecasts: done in", "trade: done in", "record: done in"):
        assert stage in done.stdout + done.stderr


def test_offline_yfinance_without_cache_is_one_line_and_exit_2(make_cfg, monkeypatch, capsys):
    monkeypatch.setattr(yahoo, "_download", lambda ticker: pd.DataFrame())
    cfg = make_cfg("data=yfinance", "data.retries=0")
    with pytest.raises(SystemExit) as info:
        cli.main(cfg)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not download MSFT") and "Traceback" not in err
    assert "data=csv data.path=" in err and "data=synthetic" in err


def test_another_strategy_reuses_the_cached_forecasts(run_folder):
    folder, _ = run_folder
    root = folder.parent
    done = run_cli(*FAST, "data.bars=520", "strategy=lstm_long_short",
                   f"hydra.run.dir={root / 'rerun'}", f"paths.cache_dir={root / 'cache'}", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reusing cached walk-forward forecasts" in done.stdout + done.stderr
    info = json.loads((root / "rerun" / "run_info.json").read_text())
    assert info["forecasts_from_cache"] is True
    assert (root / "rerun" / "predictions.csv").read_bytes() == (folder / "predictions.csv").read_bytes()


def test_same_seed_gives_identical_predictions_in_a_fresh_process(run_folder):
    folder, _ = run_folder
    root = folder.parent
    done = run_cli(*FAST, "data.bars=520", "report.plots=false",
                   f"hydra.run.dir={root / 'again'}", f"paths.cache_dir={root / 'fresh-cache'}",
                   cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reusing cached" not in done.stdout + done.stderr  # trained again from scratch
    assert (root / "again" / "predictions.csv").read_bytes() == (folder / "predictions.csv").read_bytes()
    info = json.loads((root / "again" / "run_info.json").read_text())
    assert info["config"]["seed"] == 42 and len(info["data_fingerprint"]) == 16
    assert "keras" in info["packages"] and "backtrader" in info["packages"]


def test_a_strategy_that_never_trades_still_gets_a_tearsheet_page(tmp_path):
    from backtests.outputs.tearsheet import write_tearsheet

    index = pd.bdate_range("2020-01-01", periods=40)
    benchmark = pd.Series(np.random.default_rng(0).normal(0, 0.01, 40), index=index)
    write_tearsheet(tmp_path / "t.html", pd.Series(0.0, index=index), benchmark, "X <b> · flat")
    page = (tmp_path / "t.html").read_text()
    assert "never held a position" in page and "X &lt;b&gt;" in page
