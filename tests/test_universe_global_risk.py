"""The global model's 1-session distribution as the `lstm` risk method's input (issue 23): a global
universe trains no risk network per ticker, its risk forecasts are the global Student-t's, the
audit passes, and a single run's risk cache entry is never taken for the global model's."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtests.modes.audit import run_audit
from backtests.pipeline.risk import risk_settings
from backtests.stages.forecasts import forecast_stage
from backtests.stages.markets import load_markets
from backtests.stages.risk import risk_stage
from forecasting.risk.lstm_volatility import LSTMVolatility
from tests.conftest import DISTRIBUTION
from tests.test_universe import CSV, universe_cfg, write_market

GLOBAL = ("universe.model=global", *DISTRIBUTION, "risk_model.enabled=true",
          "risk_model.methods=[lstm,ewma]")


def refuse_training(*args, **kwargs):
    raise AssertionError("the per-ticker risk LSTM was trained")


def t_var(mean: np.ndarray, scale: np.ndarray, df: float, level: float) -> np.ndarray:
    """VaR as a positive loss from scipy's Student-t (Gaussian when df is inf)."""
    quantile = stats.norm.ppf(1 - level) if not np.isfinite(df) else stats.t.ppf(1 - level, df)
    return -(mean + scale * quantile)


def test_a_global_universe_reads_its_risk_from_the_global_distribution(make_cfg, tmp_path, monkeypatch):
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = universe_cfg(make_cfg, folder, *GLOBAL)
    monkeypatch.setattr(LSTMVolatility, "fit", refuse_training)
    loaded = load_markets(cfg)
    forecasts = forecast_stage(cfg, loaded)
    assert sorted(forecasts.one_session) == ["AAA", "BBB", "CCC"] and forecasts.source
    risk = risk_stage(cfg, loaded, risk_settings(cfg), forecasts)
    for ticker, run in risk.runs.items():
        rows = run.frame[run.frame["method"] == "lstm"]
        given = forecasts.one_session[ticker].reindex(rows.index)
        assert given.notna().all().all() and len(rows) == len(forecasts.long.query("ticker == @ticker"))
        df = given["df_h1"].to_numpy()
        nu = np.where(np.isfinite(df), df, 1e12)  # inf: Gaussian, the scale is the deviation
        sd = given["scale_h1"] * np.sqrt(nu / (nu - 2))
        assert np.allclose(rows["volatility"], sd, rtol=1e-9)
        one = given.iloc[:1]
        expected = t_var(one["mean_h1"].to_numpy(), one["scale_h1"].to_numpy(), float(df[0]), 0.99)
        assert np.allclose(rows["var_99"].iloc[:1], expected, rtol=1e-9)
    # the global model's point forecasts are its distribution's unshrunk mean, finite and varied
    assert forecasts.long["forecast"].notna().all() and forecasts.long["forecast"].std() > 0


def test_a_single_runs_risk_entry_is_not_taken_for_the_global_models(make_cfg, tmp_path, monkeypatch):
    """Same ticker data, same forecaster settings, one cache: the single run's `lstm` risk rows
    come from its own distribution, the universe's from the global model's."""
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    one = make_cfg(*CSV, f"data.path={folder}", "ticker=AAA", *DISTRIBUTION, "risk_model.enabled=true",
                   "risk_model.methods=[lstm,ewma]")
    loaded_one = load_markets(one)
    own = risk_stage(one, loaded_one, risk_settings(one), forecast_stage(one, loaded_one))
    cfg = universe_cfg(make_cfg, folder, *GLOBAL)
    monkeypatch.setattr(LSTMVolatility, "fit", refuse_training)
    loaded = load_markets(cfg)
    forecasts = forecast_stage(cfg, loaded)
    risk = risk_stage(cfg, loaded, risk_settings(cfg), forecasts)
    assert not risk.runs["AAA"].cached and risk.runs["AAA"].key != own.runs["AAA"].key
    mine = risk.runs["AAA"].frame.query("method == 'lstm'")["volatility"]
    theirs = own.runs["AAA"].frame.query("method == 'lstm'")["volatility"]
    assert not np.allclose(mine.to_numpy(), theirs.reindex(mine.index).to_numpy())


def test_the_audit_passes_with_the_global_distribution_and_its_risk(make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = universe_cfg(make_cfg, folder, *GLOBAL)
    assert run_audit(cfg, cutoffs=2, atol=0.0) == 0.0
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "PASS" and "risk forecasts" in report["checked"]


@pytest.mark.parametrize("target", ["excess"])
def test_other_targets_keep_the_point_model(make_cfg, tmp_path, target):
    """An excess return's spread is not a ticker's risk: no distribution, the risk LSTM its own."""
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = universe_cfg(make_cfg, folder, *GLOBAL, f"universe.target={target}")
    loaded = load_markets(cfg)
    forecasts = forecast_stage(cfg, loaded)
    assert forecasts.one_session == {} and forecasts.source is None
    assert "mean_h1" not in forecasts.long.columns
    pd.testing.assert_index_equal(pd.Index(sorted(forecasts.long["ticker"].unique())),
                                  pd.Index(["AAA", "BBB", "CCC"]))
