"""The global model's 1-session distribution as the `lstm` risk method's input (issue 23): a global
universe trains no risk network per ticker, its risk forecasts are the global Student-t's, the
audit passes, and a single run's risk cache entry is never taken for the global model's."""
from __future__ import annotations

import json
from dataclasses import replace

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
from forecasting.universe.distribution import GlobalDistributionLSTM
from forecasting.universe.explain import PanelExplainer
from forecasting.universe.models import GlobalLSTM
from forecasting.universe.panel import Panel
from forecasting.universe.walkforward import fold_samples, panel_folds, run_panel
from forecasting.windows import Windows
from tests.builders import build, settings
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


WINDOW = 8


def volatile_panel(samples: int = 700, seed: int = 0) -> tuple[Panel, np.ndarray]:
    """Three tickers whose next return's spread is set by their last feature value: (panel, the
    true standard deviation of each sample's next return)."""
    windows, bars, sigmas = {}, {}, []
    for number, name in enumerate(("AAA", "BBB", "CCC")):
        rng = np.random.default_rng(seed + number)
        table = rng.standard_normal((samples + WINDOW, 2)).astype(np.float32)
        X = np.ascontiguousarray(
            np.lib.stride_tricks.sliding_window_view(table, WINDOW, axis=0).transpose(0, 2, 1))
        sigma = 0.01 * (1 + number) * (0.3 + np.abs(X[:, -1, 0]))
        y = sigma * rng.standard_normal(len(X))
        y[-1] = np.nan
        dates = pd.bdate_range("2001-01-01", periods=samples + WINDOW)
        windows[name], bars[name] = Windows(X, y, dates[WINDOW - 1:]), dates
        sigmas.append(sigma)
    return Panel.stack(windows, bars), np.concatenate(sigmas)


def distribution_model(**changes) -> GlobalDistributionLSTM:
    values = {**settings("forecaster/lstm", window=WINDOW, units=8, epochs=15, warm_epochs=2,
                         batch_size=64, learning_rate=0.01, patience=3), **changes}
    return GlobalDistributionLSTM(**values, target="raw", embedding=2, n_tickers=3, warm_samples=0,
                                  val_samples=0)


def test_the_global_distribution_tracks_each_samples_true_spread():
    panel, sigma = volatile_panel()
    schedule = build("walkforward/default", initial_train=400, retrain_every=150)
    found = run_panel(schedule, distribution_model(), panel, seed=0, progress=False)
    assert list(found.columns[-3:]) == ["mean_h1", "scale_h1", "df_h1"]
    rows = found.merge(pd.DataFrame({"date": panel.dates, "ticker": np.asarray(panel.tickers)[panel.ticker],
                                     "sigma": sigma}), on=["date", "ticker"])
    nu = np.where(np.isfinite(rows["df_h1"]), rows["df_h1"], 1e12)
    sd = rows["scale_h1"] * np.sqrt(nu / (nu - 2))
    assert stats.spearmanr(sd, rows["sigma"])[0] > 0.8  # across tickers and within them
    ratio = (sd / rows["sigma"]).groupby(rows["ticker"]).median()
    assert ratio.between(0.7, 1.4).all(), ratio
    z = rows["actual"] / sd  # the forecast Student-t's 99% VaR is exceeded about 1% of the days
    quantile = [stats.t.ppf(0.01, d) * np.sqrt((d - 2) / d) if np.isfinite(d) else stats.norm.ppf(0.01)
                for d in rows["df_h1"]]
    assert 0.002 < np.mean(z < np.asarray(quantile)) < 0.03


def test_a_global_distribution_fold_does_not_depend_on_later_data():
    panel, _ = volatile_panel()
    schedule = build("walkforward/default", initial_train=400, retrain_every=150)
    first = panel_folds(schedule, panel)[0]
    later = panel.pos >= first.test_end
    X, y = panel.X.copy(), panel.y.copy()
    X[later] *= 3.0
    y[later] = -y[later]
    changed = replace(panel, X=X, y=y)
    before = run_panel(schedule, distribution_model(), panel, seed=0, progress=False)
    after = run_panel(schedule, distribution_model(), changed, seed=0, progress=False)
    columns = ["forecast", "mean_h1", "scale_h1", "df_h1"]
    first_fold = before["fold"] == before["fold"].min()
    pd.testing.assert_frame_equal(before.loc[first_fold, columns].reset_index(drop=True),
                                  after.loc[after["fold"] == after["fold"].min(), columns]
                                  .reset_index(drop=True))


def test_its_point_view_is_the_distributions_mean_and_attributions_explain_it():
    panel, _ = volatile_panel()
    schedule = build("walkforward/default", initial_train=400, retrain_every=150)
    explainer = PanelExplainer(build("explain/default", ["a", "b"], lag_blocks=[1, 2], seed=0))
    model = distribution_model()
    found = run_panel(schedule, model, panel, seed=0, progress=False, explain=explainer)
    assert explainer.explanation is not None and explainer.explanation.folds
    last = found[found["fold"] == found["fold"].max()].sort_values(["ticker", "date"])  # panel order
    test = fold_samples(schedule, panel, panel_folds(schedule, panel)[-1])[1]
    np.testing.assert_allclose(GlobalLSTM.predict(model, panel, test), last["forecast"], rtol=1e-5)


def test_with_membership_the_risk_reads_the_global_distribution_on_member_dates_only(make_cfg, tmp_path,
                                                                                   monkeypatch):
    from tests.test_membership import JOIN, LEAVE, membership_cfg, write_universe

    calendar = write_universe(tmp_path / "prices")
    cfg = membership_cfg(make_cfg, tmp_path, "universe.model=global", *DISTRIBUTION,
                         "risk_model.enabled=true", "risk_model.methods=[lstm,ewma]")
    monkeypatch.setattr(LSTMVolatility, "fit", refuse_training)
    loaded = load_markets(cfg)
    forecasts = forecast_stage(cfg, loaded)
    assert forecasts.one_session["LLL"].index.max() <= calendar[LEAVE]
    assert forecasts.one_session["JJJ"].index.min() >= calendar[JOIN]
    risk = risk_stage(cfg, loaded, risk_settings(cfg), forecasts)
    for ticker in ("LLL", "JJJ", "AAA"):
        rows = risk.runs[ticker].frame.query("method == 'lstm'")
        member = rows.index.isin(forecasts.one_session[ticker].index)
        assert rows.loc[member, "volatility"].notna().all()
        assert rows.loc[~member, "volatility"].isna().all()  # nothing forecast, nothing read
        assert (ticker == "AAA") == member.all()


def test_the_global_distribution_lstm_resumes_bit_for_bit():
    """The fold memory (a rerun extends the walk-forward) carries the network, its point view, the
    shrink and the tails: each step equals the loop run once, the 1-session columns included."""
    from tests.test_incremental import LOOP_BARS, _frames, _panel, _panel_stepwise, _walkforward

    def model() -> GlobalDistributionLSTM:
        return GlobalDistributionLSTM(window=10, units=4, layers=1, dropout=0.2, epochs=2,
                                      warm_epochs=2, batch_size=64, learning_rate=0.01, patience=2,
                                      target="raw", embedding=2, n_tickers=3, warm_samples=120,
                                      val_samples=40)

    frames = _frames(["AAA", "BBB", "CCC"], LOOP_BARS)
    stepped, counts = _panel_stepwise(frames, (LOOP_BARS - 50, LOOP_BARS - 49, LOOP_BARS), model)
    scratch = run_panel(_walkforward(), model(), _panel(frames, LOOP_BARS), seed=3, progress=False)
    assert "scale_h1" in scratch.columns
    pd.testing.assert_frame_equal(stepped, scratch, check_exact=True)
    assert counts[1] == {"reuse": 3, "predict": 1, "fit": 0}
