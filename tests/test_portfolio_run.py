"""A universe run that trades: files, agreement between them, portfolio VaR backtests recomputed
from var.csv, the sentiment index, the audit, and the mistakes refused before any work."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtests.errors import UserError
from backtests.modes.audit import run_audit
from backtests.modes.experiment import run_experiment
from backtests.pipeline.metrics import performance
from backtests.settings.validate import validate
from tests.builders import build
from tests.test_universe import CSV, write_market

TRADE = ["strategy=topk", "strategy.k=2", "strategy.rebalance=5", "forecaster=ridge",
         "universe.n_jobs=1", "risk_model.methods=[historical,ewma]", "report.plots=false"]


def portfolio_cfg(make_cfg, folder, *extra):
    return make_cfg(*CSV, f"data.path={folder}", "universe=folder", *TRADE, *extra)


@pytest.fixture(scope="module")
def traded(tmp_path_factory):
    """One topk run over four synthetic tickers, shared by the checks below."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from tests.conftest import CONF, FAST

    root = tmp_path_factory.mktemp("portfolio")
    folder = write_market(root / "prices")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[*FAST[:1], *CSV, f"data.path={folder}",
                                            "universe=folder", *TRADE])
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "run")
        cfg.paths.cache_dir = str(root / "cache")
        cfg.paths.results_dir = str(root / "results")
    run_experiment(cfg)
    return root / "run"


def test_a_portfolio_run_writes_every_file_and_metrics_agree_with_returns_csv(traded):
    metrics = json.loads((traded / "metrics.json").read_text())
    for name in ("returns.csv", "trades.csv", "weights.csv", "holdings.csv", "var.csv",
                 "var_backtests.csv", "risk_contributions.csv", "sentiment.csv", "report.html",
                 "trials.json"):
        assert (traded / name).exists(), name
    returns = pd.read_csv(traded / "returns.csv", index_col="date", parse_dates=True)
    for column, block in (("strategy", "strategy"), ("benchmark", "benchmark")):
        again = performance(returns[column])
        for key in ("total_return", "sharpe", "max_drawdown", "volatility"):
            assert metrics[block][key] == pytest.approx(again[key], rel=1e-9)
    assert metrics["universe"]["portfolio_backtest"] is True
    assert "strategy" not in metrics["portfolio"]  # one place, the top level, as in a single run
    trades = pd.read_csv(traded / "trades.csv")
    assert trades.columns[0] == "ticker" and set(trades["ticker"]) <= {"AAA", "BBB", "CCC", "DDD"}
    weights = pd.read_csv(traded / "weights.csv", index_col="date")
    assert ((weights > 0).sum(axis=1) <= 2).all()  # k=2, long only
    assert (weights.sum(axis=1) <= 1.0 + 1e-9).all()
    page = (traded / "report.html").read_text()
    assert "against the equal-weight benchmark" in page and "No portfolio backtest" not in page


def test_portfolio_var_backtests_equal_an_independent_computation_from_var_csv(traded):
    var = pd.read_csv(traded / "var.csv", parse_dates=["date"])
    table = pd.read_csv(traded / "var_backtests.csv")
    mine = var[var["asset"] == "portfolio"].dropna(subset=["realised"])
    assert set(mine["method"]) >= {"historical", "ewma"}
    for method, part in mine.groupby("method"):
        for level, column in ((0.95, "var_95"), (0.99, "var_99")):
            hits = part["realised"].to_numpy() < -part[column].to_numpy()
            n, x, p = len(hits), int(hits.sum()), 1 - level
            rate = x / n
            ll_null = (n - x) * np.log(1 - p) + x * np.log(p)
            ll_alt = ((n - x) * np.log(1 - rate) if x < n else 0.0) + (x * np.log(rate) if x else 0.0)
            row = table[(table["asset"] == "portfolio") & (table["method"] == method)
                        & np.isclose(table["level"], level)].iloc[0]
            assert row["days"] == n and row["exceedances"] == x
            assert row["kupiec_p"] == pytest.approx(stats.chi2.sf(-2 * (ll_null - ll_alt), 1), abs=1e-9)


def test_sentiment_csv_holds_the_index_and_the_outcomes_it_is_judged_on(traded):
    sentiment = pd.read_csv(traded / "sentiment.csv", index_col="date", parse_dates=True)
    assert list(sentiment.columns[:3]) == ["breadth", "mean_forecast", "dispersion"]
    assert sentiment["breadth"].between(0, 1).all()
    predictions = pd.read_csv(traded / "predictions.csv", parse_dates=["date"])
    day = predictions[predictions["date"] == sentiment.index[10]]
    assert sentiment["mean_forecast"].iloc[10] == pytest.approx(day["forecast"].mean(), rel=1e-6)
    metrics = json.loads((traded / "metrics.json").read_text())
    assert metrics["sentiment"]["verdict"]


def test_the_universe_audit_covers_weights_risk_and_sentiment(make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = portfolio_cfg(make_cfg, folder, "strategy.k=1", "risk_model.methods=[ewma]")
    assert run_audit(cfg, cutoffs=1, atol=0.0) == 0.0
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "PASS"
    assert {"portfolio weights", "portfolio risk forecasts", "sentiment index",
            "risk forecasts"} <= set(report["checked"])


def test_the_universe_audit_catches_a_strategy_that_peeks_one_day_ahead(make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = portfolio_cfg(make_cfg, folder, "strategy._target_=tests.leaky.PeekingTopK",
                        "strategy.k=1", "strategy.rebalance=1", "risk_model.enabled=false")
    with pytest.raises(SystemExit):
        run_audit(cfg, cutoffs=3, atol=0.0)
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "FAIL"
    found = [(f["what"], f["first_date"], f["cutoff"]) for f in report["findings"]]
    assert all(what == "portfolio targets" and first == cutoff  # the decision at the cutoff close
               for what, first, cutoff in found), found


def test_too_few_tickers_for_the_strategy_is_refused_before_any_forecast(make_cfg, tmp_path, caplog):
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = portfolio_cfg(make_cfg, folder, "strategy=market_neutral", "strategy.k=2")
    with caplog.at_level("INFO"), pytest.raises(UserError, match="needs at least 4 tickers"):
        run_experiment(cfg)
    assert "forecasts ..." not in caplog.text  # nothing was trained


def test_trading_mistakes_are_refused_before_any_data(make_cfg):
    with pytest.raises(UserError, match="trades a universe"):
        validate(make_cfg("strategy=topk"))
    with pytest.raises(UserError, match="vol_source=forecast"):
        validate(make_cfg("risk.vol_source=forecast", "risk_model.methods=[ewma]"))


def test_forecast_volatility_reaches_the_bars_only_when_the_rules_ask_for_it():
    from backtests.pipeline.engine import signal_bars
    from tests.paths import bars

    frame = bars([10, 11, 12, 13]).drop(columns="signal")
    forecasts = pd.Series([0.01, -0.02, 0.03], index=frame.index[:3])
    risk = pd.DataFrame({"method": ["lstm", "lstm", "ewma"], "volatility": [0.02, 0.03, 0.5]},
                        index=[frame.index[0], frame.index[1], frame.index[1]])
    plain = signal_bars(frame, forecasts, build("risk/none", vol_target=0.1), risk)
    assert "volatility" not in plain and plain["signal"].iloc[:3].tolist() == [0.01, -0.02, 0.03]
    sized = signal_bars(frame, forecasts, build("risk/none", vol_target=0.1, vol_source="forecast"), risk)
    assert sized["volatility"].iloc[:2].tolist() == [0.02, 0.03]  # the LSTM's, never another method's
    assert sized["volatility"].iloc[2:].isna().all()


def test_the_sentiment_regime_filter_cuts_exposure_on_bearish_closes(make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices")
    cfg = portfolio_cfg(make_cfg, folder, "risk_model.enabled=false", "strategy.rebalance=1",
                        "sentiment.regime_filter=true", "sentiment.regime_threshold=0.5",
                        "sentiment.regime_low=0.0")
    run_experiment(cfg)
    out = tmp_path / "run"
    assert json.loads((out / "metrics.json").read_text())["portfolio"]["regime_filter"] is True
    breadth = pd.read_csv(out / "sentiment.csv", index_col="date", parse_dates=True)["breadth"]
    weights = pd.read_csv(out / "weights.csv", index_col="date", parse_dates=True)
    sessions = breadth.index
    for fill, row in weights.iterrows():
        decided = sessions[sessions.get_loc(fill) - 1]  # the close before the fill
        if breadth[decided] < 0.5:
            assert (row == 0).all(), fill  # regime_low=0: out of the market
    assert (breadth < 0.5).any() and (breadth >= 0.5).any()


def test_the_universe_report_shows_every_members_data_findings(traded):
    metrics = json.loads((traded / "metrics.json").read_text())
    page = (traded / "report.html").read_text()
    assert "<h2>Data</h2>" in page
    assert any(block["quality"]["findings"] for block in metrics["data"].values())  # not vacuous
    for ticker, block in metrics["data"].items():
        for finding in block["quality"]["findings"]:
            assert f"<td>{ticker}</td><td>{finding['kind']}</td>" in page.replace("\n", "")
