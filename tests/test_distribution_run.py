"""A run with forecaster=lstm_dist: distribution.csv and its scores, one network for return and
risk, the strategies that read it, and the audit over every horizon."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtests.modes.audit import run_audit
from backtests.modes.experiment import run_experiment
from forecasting.distribution.scores import score_distributions
from tests.conftest import CONF, DISTRIBUTION, FAST

TINY = (*DISTRIBUTION, "forecaster.horizons=[1,5]")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """One tiny single run with the distribution forecaster and the lstm risk method; the risk
    LSTM must not be trained (the forecaster's 1-session distribution is the risk forecast)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from forecasting.risk import lstm_volatility

    def no_second_network(*args, **kwargs):
        raise AssertionError("a second LSTM was trained for the risk forecasts")

    root = tmp_path_factory.mktemp("distribution")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[*FAST, *TINY, "risk_model.methods=[lstm,historical,ewma]"])
    with open_dict(cfg):
        cfg.paths.output_dir, cfg.paths.cache_dir = str(root / "run"), str(root / "cache")
        cfg.paths.results_dir = str(root / "results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lstm_volatility.LSTMVolatility, "fit", no_second_network)
        run_experiment(cfg)
    return root / "run"


def test_distribution_csv_holds_every_method_and_horizon_and_its_scores_recompute(run_folder):
    table = pd.read_csv(run_folder / "distribution.csv", parse_dates=["date"])
    assert list(table.columns) == ["date", "horizon", "method", "mean", "scale", "df", "q05", "q25",
                                   "q50", "q75", "q95", "p_up", "p_up_climatology", "realised", "fold"]
    assert set(table["horizon"]) == {1, 5}
    assert list(dict.fromkeys(table["method"])) == ["lstm", "historical", "ewma", "garch", "climatology"]
    assert (table["q05"] < table["q50"]).all() and (table["q50"] < table["q95"]).all()
    metrics = json.loads((run_folder / "metrics.json").read_text())
    again = json.loads(json.dumps(score_distributions(table, model="lstm")))
    for h in ("h1", "h5"):
        for method, scores in metrics["distribution"][h]["methods"].items():
            for name in ("crps", "brier", "n"):
                assert scores[name] == pytest.approx(again[h]["methods"][method][name], rel=1e-12)
    # realised: the h-session return that followed, NaN for the last h - 1 rows (not known yet)
    predictions = pd.read_csv(run_folder / "predictions.csv", index_col="date", parse_dates=True)
    lstm5 = table[(table["method"] == "lstm") & (table["horizon"] == 5)].set_index("date")
    rolled = predictions["actual"].rolling(5).sum().shift(-4)
    pd.testing.assert_series_equal(lstm5["realised"], rolled.reindex(lstm5.index), check_names=False)


def test_the_lstm_risk_forecast_is_the_one_session_distribution(run_folder):
    table = pd.read_csv(run_folder / "distribution.csv", parse_dates=["date"])
    one = table[(table["method"] == "lstm") & (table["horizon"] == 1)].set_index("date")
    var = pd.read_csv(run_folder / "var.csv", parse_dates=["date"])
    lstm = var[var["method"] == "lstm"].set_index("date")
    sd = one["scale"] * np.sqrt(one["df"] / (one["df"] - 2))
    np.testing.assert_allclose(lstm["volatility"], sd.reindex(lstm.index), rtol=1e-9)
    assert (lstm["es_99"] > lstm["var_99"]).all() and (lstm["var_99"] > lstm["var_95"]).all()


def test_lstm_probability_trades_on_the_distribution(make_cfg, tmp_path):
    run_experiment(make_cfg(*TINY, "strategy=lstm_probability", "strategy.horizon=5",
                            "strategy.threshold=0.5"))
    trades = pd.read_csv(tmp_path / "run" / "trades.csv")
    assert len(trades) > 0


def test_the_audit_replays_every_horizon_and_passes(make_cfg, tmp_path):
    assert run_audit(make_cfg(*TINY), cutoffs=1, atol=0.0) == 0.0
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert "forecast distributions" in report["checked"]


def test_the_audit_catches_a_distribution_baseline_that_reads_the_outcome(make_cfg, tmp_path):
    cfg = make_cfg(*TINY, "distribution.baselines=[ewma,tests.leaky.PeekingDistribution]")
    with pytest.raises(SystemExit):
        run_audit(cfg, cutoffs=1, atol=0.0)
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert [f["what"] for f in report["findings"]] == ["forecast distributions"]
    assert report["findings"][0]["first_date"] <= report["findings"][0]["cutoff"]


def test_a_per_ticker_universe_scores_every_tickers_distributions(make_cfg, tmp_path, monkeypatch):
    from forecasting.risk import lstm_volatility
    from tests.test_universe import universe_cfg, write_market

    monkeypatch.setattr(lstm_volatility.LSTMVolatility, "fit",
                        lambda *a, **k: pytest.fail("a second LSTM was trained"))
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = universe_cfg(make_cfg, folder, *TINY, "risk_model.enabled=true",
                       "risk_model.methods=[lstm,ewma]", "distribution.baselines=[ewma,climatology]")
    run_experiment(cfg)
    out = tmp_path / "run"
    table = pd.read_csv(out / "distribution.csv", parse_dates=["date"])
    assert list(table.columns[:4]) == ["date", "ticker", "horizon", "method"]
    assert set(table["ticker"]) == {"AAA", "BBB", "CCC"}
    block = json.loads((out / "metrics.json").read_text())["distribution"]
    assert set(block["per_ticker"]) == {"AAA", "BBB", "CCC"}
    for h in ("h1", "h5"):
        assert block["summary"][h]["tickers"] == 3
        one = table[(table["ticker"] == "BBB")].drop(columns="ticker")
        again = score_distributions(one, model="lstm")[h]["methods"]["lstm"]["crps"]
        assert block["per_ticker"]["BBB"][h]["methods"]["lstm"]["crps"] == pytest.approx(again, rel=1e-12)
    assert "Forecast distributions: 5-session, 3 tickers" in (out / "report.html").read_text()
