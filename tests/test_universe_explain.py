"""The global model's attributions find a planted signal pooled and per ticker, never look ahead,
and a universe run with report.explain=true writes them; per-ticker models' are each ticker's
single-run attributions, pooled by refit date into the same files."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from omegaconf import open_dict

from backtests.modes.experiment import run_experiment
from backtests.outputs.explanations import TICKER_COLUMNS
from forecasting.explain import Explanation, FoldAttribution
from forecasting.explain.tickers import over_tickers
from forecasting.universe.explain import MIN_TICKER_SAMPLES, PanelExplainer, PanelView, explain_fold
from forecasting.universe.models import GlobalLSTM, PanelRidge
from forecasting.universe.panel import Panel
from forecasting.universe.walkforward import fold_samples, panel_folds, run_panel
from forecasting.windows import Windows
from tests.builders import build, settings
from tests.conftest import EXPLAIN
from tests.test_explain_outputs import COLUMNS
from tests.test_universe import CSV, universe_cfg, write_market

NAMES = ["signal", "weak", "noise"]
TICKERS = ["AAA", "BBB", "CCC"]
WINDOW, LAG = 8, 3  # every ticker's next return = its signal feature at lag 3 (+ weak at lag 1)
SCHEDULE = build("walkforward/default", initial_train=400, retrain_every=200)


def ticker(number: int, samples: int, signal: bool = True) -> tuple[Windows, pd.DatetimeIndex]:
    """A ticker's windows with its own feature scale (its scaler matters) and its bar dates."""
    rng = np.random.default_rng(number)
    scale = 1.0 + number
    table = scale * rng.standard_normal((samples + WINDOW, len(NAMES))).astype(np.float32)
    X = np.ascontiguousarray(
        np.lib.stride_tricks.sliding_window_view(table, WINDOW, axis=0).transpose(0, 2, 1))
    y = 0.01 * (signal * (X[:, -LAG, 0] / scale + 0.5 * X[:, -1, 1] / scale)
                + 0.3 * rng.standard_normal(len(X)))
    y[-1] = np.nan  # the last bar's next return is not known yet
    bars = pd.bdate_range("2001-01-01", periods=samples + WINDOW)
    return Windows(X, y, bars[WINDOW - 1:]), bars


def planted(samples: int = 700, short: int | None = None, signal: bool = True) -> Panel:
    """Three tickers; `short`: the last one's data ends after that many samples."""
    made = {t: ticker(n, short if short and n == 2 else samples, signal)
            for n, t in enumerate(TICKERS)}
    return Panel.stack({t: w for t, (w, _) in made.items()}, {t: b for t, (_, b) in made.items()})


def explained(model, panel: Panel) -> Explanation:
    explainer = PanelExplainer(build("explain/default", NAMES, lag_blocks=[1, 2, 3, 4], seed=0))
    run_panel(SCHEDULE, model, panel, seed=0, progress=False, explain=explainer)
    assert explainer.explanation is not None
    return explainer.explanation


def ridge() -> PanelRidge:
    return PanelRidge(**settings("forecaster/ridge", window=WINDOW, target="raw"))


def lstm() -> GlobalLSTM:
    return GlobalLSTM(**settings("forecaster/lstm", window=WINDOW, units=4, epochs=8, warm_epochs=2,
                                 batch_size=64, learning_rate=0.01, patience=0),
                      target="raw", embedding=2, n_tickers=len(TICKERS), warm_samples=0, val_samples=0)


def assert_planted_ranking(found: Explanation, lags: bool) -> None:
    for group in ("all", *TICKERS):
        features = found.for_group(group).importance().set_index("feature")
        assert features["rank"].idxmin() == "signal" and features["rank"].idxmax() == "noise", group
        assert features["integrated_gradients"].idxmax() == "signal", group
        assert features["integrated_gradients"].idxmin() == "noise", group
        if lags:
            blocks = found.for_group(group).lag_blocks().set_index("lags")
            assert blocks["permutation_mse_increase"].idxmax() == str(LAG), group
            assert blocks["integrated_gradients"].idxmax() == str(LAG), group


def test_ridge_ranks_the_planted_feature_and_lag_first_pooled_and_per_ticker():
    found = explained(ridge(), planted())
    assert [(f.fold, f.group) for f in found.folds] == [(n, g) for n in (0, 1) for g in ("all", *TICKERS)]
    assert_planted_ranking(found, lags=True)
    pooled = found.for_group("all")
    assert pooled.folds[0].samples == 3 * 200 and found.for_group("AAA").folds[0].samples == 200
    assert pooled.folds[0].mse.shape == (3, 8) and found.for_group("AAA").folds[0].mse.shape == (1, 8)
    assert "coefficient" in pooled.lags()  # the pooled ridge's standardised coefficients


def test_no_signal_gives_importances_within_their_standard_errors_pooled_and_per_ticker():
    """Cross-ticker shuffles in the scaled space stay calibrated (over 6 seeds the pooled z-scores
    had a standard deviation of 0.95, the per-ticker ones 1.1)."""
    found = explained(ridge(), planted(1000, signal=False))
    for group in ("all", *TICKERS):
        tables = (found.for_group(group).importance(), found.for_group(group).lag_blocks())
        z = np.concatenate([t["permutation_mse_increase"] / t["permutation_std"] for t in tables])
        assert len(z) == 8 and np.abs(z).max() < 4 and (np.abs(z) < 2).mean() >= 0.75, (group, z)


def test_a_tiny_global_lstm_finds_it_too_and_its_gradients_add_up_with_the_ticker_held_fixed():
    panel = planted()
    model = lstm()
    found = explained(model, panel)
    assert_planted_ranking(found, lags=False)
    fold = panel_folds(SCHEDULE, panel)[-1]  # the model left fitted by the walk-forward
    view = PanelView.of_fold(model, panel, fold_samples(SCHEDULE, panel, fold)[1])
    attributions = view.integrated_gradients(view.windows, steps=8)
    zero = Windows(np.zeros_like(view.windows.X), view.windows.y, view.windows.index)
    moved = view.predict(view.windows) - view.predict(zero)  # from each ticker's training mean
    np.testing.assert_allclose(attributions.sum(axis=(1, 2)), moved, rtol=1e-3,
                               atol=1e-4 * np.abs(moved).max())


def test_attributions_of_a_fold_do_not_depend_on_later_data():
    panel = planted()
    end = panel_folds(SCHEDULE, panel)[0].test_end
    later = panel.pos >= end
    X, y = panel.X.copy(), panel.y.copy()
    X[later] *= -3.0
    y[later] = 0.05
    altered = Panel(X, y, panel.pos, panel.target_pos, panel.ticker, panel.tickers, panel.calendar,
                    panel.lead)
    first, second = explained(ridge(), panel), explained(ridge(), altered)
    a, b = first.to_dict()["folds"], second.to_dict()["folds"]
    assert [f for f in a if f["fold"] == 0] == [f for f in b if f["fold"] == 0]
    assert all(x != y for x, y in zip(a, b) if x["fold"] == 1)


def test_a_ticker_with_too_few_test_samples_in_a_fold_is_pooled_but_not_explained_alone():
    panel = planted(short=393 + MIN_TICKER_SAMPLES - 1)  # CCC ends 1 window short of the minimum
    groups = []
    model = ridge()
    for fold in panel_folds(SCHEDULE, panel):
        model.fit(panel, fold_samples(SCHEDULE, panel, fold)[0])
        explain_fold(lambda view, train, test, f, group: groups.append(
            (f.number, group, sorted({panel.tickers[i] for i in view.ids}))), model, panel,
            fold_samples(SCHEDULE, panel, fold)[1], fold)
    assert groups[0] == (0, "all", TICKERS) and (0, "CCC", ["CCC"]) not in groups
    assert [g for f, g, _ in groups if f == 0] == ["all", "AAA", "BBB"]


def _off_then_on(make_cfg, folder, common, out) -> pd.DataFrame:
    """A universe run with report.explain's default (off for universes: nothing written), then the
    same with report.explain=true; the first run's predictions."""
    run_experiment(universe_cfg(make_cfg, folder, *common))
    assert not (out / "importance.csv").exists()
    assert json.loads((out / "metrics.json").read_text())["universe"]["attributions"] is False
    predictions = pd.read_csv(out / "predictions.csv")
    (out / "metrics.json").unlink()
    run_experiment(universe_cfg(make_cfg, folder, *common, "report.explain=true"))
    assert json.loads((out / "metrics.json").read_text())["universe"]["attributions"] is True
    return predictions


def test_a_universe_run_with_report_explain_writes_pooled_and_per_ticker_tables(make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices", TICKERS)
    common = ("forecaster=ridge", "universe.model=global", "report.plots=false", EXPLAIN)
    out = tmp_path / "run"
    predictions = _off_then_on(make_cfg, folder, common, out)
    pd.testing.assert_frame_equal(pd.read_csv(out / "predictions.csv"), predictions)
    features = ["log_return", "range", "volume_z", "volatility", "rsi", "macd", "sma_gap", "market"]
    pooled = pd.read_csv(out / "importance.csv")
    assert list(pooled.columns[:6]) == COLUMNS and sorted(pooled["feature"]) == sorted(features)
    tickers = pd.read_csv(out / "importance_tickers.csv")
    assert list(tickers.columns) == TICKER_COLUMNS and len(tickers) == len(TICKERS) * len(features)
    assert all(sorted(ranks) == list(range(1, 9)) for _, ranks in tickers.groupby("ticker")["rank"])
    page = (out / "report.html").read_text()
    assert "What the global model looks at" in page and 'href="importance_tickers.csv"' in page


# Per-ticker models: each ticker's single-run attributions, pooled by refit date.

def attribution(rng: np.random.Generator, fold: int, start: str, samples: int,
                groups: int = 5, window: int = 4, features: int = 3) -> FoldAttribution:
    """A fold record with random figures (3 shuffle repeats); no labelled samples: NaN, as the
    explainer records a fold it cannot score."""
    mse = rng.normal(size=(3, groups)) if samples else np.full((3, groups), np.nan)
    return FoldAttribution(fold=fold, start=start, samples=samples, windows=samples + 1,
                           base_mse=float(rng.uniform(1, 2)) if samples else float("nan"),
                           mse=mse, accuracy=mse / 10, mse_var=np.abs(rng.normal(size=groups)),
                           accuracy_var=np.abs(rng.normal(size=groups)) / 100,
                           gradients=np.abs(rng.normal(size=(window, features))))


def test_per_ticker_attributions_pool_by_refit_date_as_pooling_every_fold_would():
    rng = np.random.default_rng(0)
    names, blocks = ["a", "b", "c"], [(1, 1), (2, 4)]
    own = {"AAA": [attribution(rng, 0, "2001-01-01", 20), attribution(rng, 1, "2001-02-01", 21)],
           "BBB": [attribution(rng, 0, "2001-01-01", 19), attribution(rng, 1, "2001-02-01", 0)],
           "CCC": [attribution(rng, 0, "2001-02-01", 21)]}  # a late listing: its first refit
    combined = over_tickers({t: Explanation(names, blocks, 4, folds) for t, folds in own.items()})
    assert combined is not None
    every = Explanation(names, blocks, 4, [f for folds in own.values() for f in folds])
    pooled = combined.for_group("all")
    assert [(f.fold, f.start, f.samples, f.windows) for f in pooled.folds] == [
        (0, "2001-01-01", 39, 41), (1, "2001-02-01", 42, 45)]
    for table in ("importance", "lag_blocks", "lags"):
        pd.testing.assert_frame_equal(getattr(pooled, table)(), getattr(every, table)())
    assert np.isclose(pooled.base_mse(), every.base_mse())
    assert not pooled.by_fold().duplicated(["fold", "feature"]).any()  # one row per refit (drift)
    for ticker, folds in own.items():  # each ticker's records untouched but for its name
        expected = [{**f, "group": ticker} for f in Explanation(names, blocks, 4, folds).to_dict()["folds"]]
        assert json.dumps(combined.for_group(ticker).to_dict()["folds"]) == json.dumps(expected)


def test_a_per_ticker_universe_run_with_report_explain_writes_each_tickers_single_run_attributions(
        make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices", TICKERS)
    common = ("forecaster=ridge", "universe.model=per_ticker", "universe.n_jobs=2", "report.plots=false")
    out = tmp_path / "run"
    predictions = _off_then_on(make_cfg, folder, (*common, EXPLAIN), out)
    how = json.loads((out / "run_info.json").read_text())["forecasts"]
    assert how["trained"] == 3  # cached without attributions: trained again, in the workers
    pd.testing.assert_frame_equal(pd.read_csv(out / "predictions.csv"), predictions)
    features = ["log_return", "range", "volume_z", "volatility", "rsi", "macd", "sma_gap"]
    pooled = pd.read_csv(out / "importance.csv")
    assert list(pooled.columns[:6]) == COLUMNS and sorted(pooled["feature"]) == sorted(features)
    tickers = pd.read_csv(out / "importance_tickers.csv")
    assert list(tickers.columns) == TICKER_COLUMNS and len(tickers) == len(TICKERS) * len(features)
    page = (out / "report.html").read_text()
    assert "What the per-ticker models look at" in page and 'href="importance_tickers.csv"' in page

    single = make_cfg(*CSV, f"data.path={folder}", "ticker=BBB", "forecaster=ridge",
                      "risk_model.enabled=false", "report.plots=false", EXPLAIN)
    with open_dict(single):  # its own folder and cache: it computes its attributions afresh
        single.paths.output_dir, single.paths.cache_dir = str(tmp_path / "one"), str(tmp_path / "c1")
    run_experiment(single)
    assert json.loads((tmp_path / "one" / "run_info.json").read_text())["forecast_cache_key"] == \
        how["cache_keys"]["BBB"]
    alone = pd.read_csv(tmp_path / "one" / "importance.csv")[TICKER_COLUMNS[1:]]
    pd.testing.assert_frame_equal(
        tickers[tickers["ticker"] == "BBB"].drop(columns="ticker").reset_index(drop=True), alone)
    refits = [pd.read_csv(f / "importance_folds.csv")[["fold", "start", "feature"]]
              for f in (out, tmp_path / "one")]
    pd.testing.assert_frame_equal(*refits)  # a shared calendar: one pooled record per fold

    written = (out / "importance.csv").read_bytes()
    (out / "metrics.json").unlink()
    run_experiment(universe_cfg(make_cfg, folder, *common, "report.explain=true"))
    assert json.loads((out / "run_info.json").read_text())["forecasts"]["trained"] == 0
    assert (out / "importance.csv").read_bytes() == written  # from the cached attributions
