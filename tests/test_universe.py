"""Universe runs: the panel, both models, long-form predictions, and skill scored across tickers."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtests.data.synthetic import synthetic_bars
from backtests.modes.experiment import run_experiment

TICKERS = ["AAA", "BBB", "CCC", "DDD"]
CSV = ["data=csv", "data.quality.exchange=weekdays", "data.quality.max_age=null", "data.start=null"]


def write_market(folder, tickers=TICKERS, bars=420, short: dict | None = None):
    """Seeded synthetic CSVs, one per ticker (a different seed each); `short`: ticker -> bars."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, ticker in enumerate(tickers):
        frame = synthetic_bars((short or {}).get(ticker, bars), seed=100 + number)
        if short and ticker in short:  # a late listing: the same calendar's last bars
            frame.index = synthetic_bars(bars, seed=0).index[-len(frame):]
        frame.rename_axis("Date").to_csv(folder / f"{ticker}.csv")
    return folder


def universe_cfg(make_cfg, folder, *extra):
    """A universe over `folder`; risk forecasts off unless asked for (these tests are about the
    return forecasts; tests/test_portfolio_run.py covers the rest)."""
    return make_cfg(*CSV, f"data.path={folder}", "universe=folder", "universe.n_jobs=1",
                    "risk_model.enabled=false", *extra)


def independent_ic(predictions: pd.DataFrame, column: str = "forecast") -> tuple[float, float]:
    """Mean daily Pearson and Spearman correlation, straight from predictions.csv with scipy."""
    rows = predictions[(predictions["scored"] == 1)].dropna(subset=[column, "actual"])
    pearson, spearman = [], []
    for _, day in rows.groupby("date"):
        if len(day) >= 3:
            pearson.append(stats.pearsonr(day[column], day["actual"])[0])
            spearman.append(stats.spearmanr(day[column], day["actual"])[0])
    return float(np.mean(pearson)), float(np.mean(spearman))


@pytest.mark.parametrize("model", ["global", "per_ticker"])
def test_cross_section_ic_equals_an_independent_computation_from_predictions_csv(
        make_cfg, tmp_path, model):
    folder = write_market(tmp_path / "prices")
    cfg = universe_cfg(make_cfg, folder, "forecaster=ridge", f"universe.model={model}")
    run_experiment(cfg)
    out = tmp_path / "run"
    metrics = json.loads((out / "metrics.json").read_text())
    predictions = pd.read_csv(out / "predictions.csv", parse_dates=["date"])
    assert list(predictions.columns[:5]) == ["date", "ticker", "forecast", "actual", "fold"]
    assert {"ridge", "reversal", "drift"} <= set(predictions.columns)
    cross = metrics["cross_section"]
    ic, rank_ic = independent_ic(predictions)
    assert cross["ic"] == pytest.approx(ic, abs=1e-12)
    assert cross["rank_ic"] == pytest.approx(rank_ic, abs=1e-12)
    for name in ("ridge", "reversal", "drift"):
        assert cross["baselines"][name]["ic"] == pytest.approx(independent_ic(predictions, name)[0],
                                                               abs=1e-12)
    assert cross["icir"] == pytest.approx(cross["ic"] / cross["ic_std"])
    assert cross["days"] == predictions["date"].nunique() - 1  # the last day's outcome is unknown
    assert set(metrics["per_ticker"]) == set(TICKERS)
    # reversal is minus today's log return, known at the forecast's close
    close = pd.read_csv(folder / "AAA.csv", index_col="Date", parse_dates=True)["Close"]
    aaa = predictions[predictions["ticker"] == "AAA"].set_index("date")
    expected = -np.log(close).diff().reindex(aaa.index)
    np.testing.assert_allclose(aaa["reversal"], expected, rtol=1e-12)
    drift = np.log(close).diff().expanding().mean().reindex(aaa.index)  # mean return up to t
    np.testing.assert_allclose(aaa["drift"], drift, rtol=1e-9)
    report = (out / "report.html").read_text()
    assert 'href="universe.html"' in report and "No portfolio backtest" in report
    assert "Survivorship bias" in report
    assert 'id="tickers"' in (out / "universe.html").read_text()


def test_per_ticker_mode_reuses_a_single_runs_forecasts(make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices", TICKERS[:3])
    single = make_cfg(*CSV, f"data.path={folder}", "ticker=BBB", "forecaster=ridge")
    run_experiment(single)
    single_key = json.loads((tmp_path / "run" / "run_info.json").read_text())["forecast_cache_key"]
    (tmp_path / "run" / "metrics.json").unlink()
    cfg = universe_cfg(make_cfg, folder, "forecaster=ridge", "universe.model=per_ticker",
                       "universe.n_jobs=2")  # the two missing tickers train in worker processes
    run_experiment(cfg)
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["forecasts"]["trained"] == 2  # BBB came from the single run's cache entry
    assert info["forecasts"]["cache_keys"]["BBB"] == single_key


def first_window_bars(cfg) -> int:
    """Bars a ticker needs for its first sample: the features' warm-up and one window."""
    from hydra.utils import instantiate

    from backtests.pipeline.forecasts import feature_warmup

    warmup = feature_warmup(instantiate(cfg.features))
    assert warmup is not None
    return warmup + int(cfg.forecaster.window)


@pytest.mark.parametrize("model", ["global", "per_ticker"])
def test_a_ticker_with_too_little_history_is_left_out_with_a_warning(make_cfg, tmp_path, caplog,
                                                                      model):
    cfg = universe_cfg(make_cfg, tmp_path / "prices", "forecaster=ridge", f"universe.model={model}")
    # global: one bar short of one window after the warm-up; per_ticker: of its own walk-forward
    short = first_window_bars(cfg) - 1 if model == "global" else 150
    write_market(tmp_path / "prices", short={"DDD": short})
    with caplog.at_level(logging.WARNING):
        run_experiment(cfg)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "DDD" in metrics["universe"]["left_out"] and "DDD" not in metrics["per_ticker"]
    assert "leaving DDD out" in caplog.text


@pytest.mark.parametrize("forecaster", ["ridge", "lstm"])
def test_a_late_listing_enters_the_global_model_at_its_first_window(make_cfg, tmp_path, forecaster):
    """Issue 23: a new listing is forecast once it has the warm-up and one window of bars (not a
    single run's initial_train of 200), and trained on once a fold holds its labelled samples."""
    from backtests.pipeline.universe import build_panel
    from backtests.stages.markets import load_markets
    from forecasting.universe.walkforward import fold_samples, panel_folds

    folder = write_market(tmp_path / "prices", bars=600, short={"DDD": 120})
    cfg = universe_cfg(make_cfg, folder, f"forecaster={forecaster}", "universe.model=global")
    run_experiment(cfg)
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv", parse_dates=["date"])
    first = predictions.groupby("ticker")["date"].min()
    listing = pd.read_csv(folder / "DDD.csv", parse_dates=["Date"])["Date"]
    assert first["DDD"] > first["AAA"]
    assert (listing < first["DDD"]).sum() == first_window_bars(cfg) - 1  # its first window's date
    ddd = predictions[predictions["ticker"] == "DDD"]
    assert len(ddd) == len(listing) - first_window_bars(cfg) + 1 and ddd["forecast"].notna().all()
    loaded = load_markets(cfg)
    panel = build_panel(cfg, loaded.universe, loaded.markets)
    walkforward = instantiate_walkforward(cfg)
    trained = [fold_samples(walkforward, panel, fold)[0] for fold in panel_folds(walkforward, panel)]
    ddd_number = panel.tickers.index("DDD")
    assert any((panel.ticker[t] == ddd_number).any() for t in trained[-1:])  # trained on, late


def instantiate_walkforward(cfg):
    from hydra.utils import instantiate

    return instantiate(cfg.walkforward)


def test_the_global_lstm_runs_with_every_target(make_cfg, tmp_path):
    folder = write_market(tmp_path / "prices", TICKERS[:3])
    for target in ("raw", "excess", "csrank"):
        cfg = universe_cfg(make_cfg, folder, "universe.model=global", f"universe.target={target}")
        run_experiment(cfg)
        metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
        assert metrics["universe"]["target"] == target
        assert np.isfinite(metrics["cross_section"]["ic"])
        assert ("mse_ratio" in metrics["per_ticker"]["AAA"]) == (target != "csrank")
        (tmp_path / "run" / "metrics.json").unlink()


def test_a_universe_needs_three_usable_tickers(make_cfg, tmp_path):
    from backtests.errors import UserError

    folder = write_market(tmp_path / "prices", ["AAA", "BBB"], short={"BBB": 100})
    with pytest.raises(UserError, match="only 1 of 2 tickers"):
        run_experiment(universe_cfg(make_cfg, folder, "forecaster=ridge"))


def test_no_global_fold_trains_on_a_bar_it_predicts_or_an_unknown_outcome(make_cfg, tmp_path):
    from hydra.utils import instantiate

    from backtests.pipeline.universe import build_panel
    from backtests.stages.markets import load_markets
    from forecasting.universe.walkforward import fold_samples, panel_folds

    folder = write_market(tmp_path / "prices", bars=600, short={"DDD": 330})
    cfg = universe_cfg(make_cfg, folder, "forecaster=ridge", "universe.model=global")
    loaded = load_markets(cfg)
    universe, markets, _ = loaded.universe, loaded.markets, loaded.left_out
    panel = build_panel(cfg, universe, markets)
    walkforward = instantiate(cfg.walkforward)
    folds = panel_folds(walkforward, panel)
    assert panel.calendar[folds[0].test_start] == panel.calendar[int(cfg.walkforward.initial_train)]
    for fold in folds:
        train, test = fold_samples(walkforward, panel, fold)
        assert panel.target_pos[train].max() <= fold.test_start  # outcomes known at the fit's close
        assert panel.pos[train].max() < panel.pos[test].min()


def test_holm_and_benjamini_hochberg_match_hand_computed_values():
    from forecasting.universe.cross_section import adjust_pvalues

    adjusted = adjust_pvalues([0.01, 0.04, 0.03, float("nan"), 0.5])
    assert adjusted["holm"][:3] == pytest.approx([0.04, 0.09, 0.09])
    assert adjusted["holm"][4] == pytest.approx(0.5)
    assert adjusted["bh"][:3] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3])
    assert np.isnan(adjusted["holm"][3]) and adjusted["bh"][4] == pytest.approx(0.5)


def test_csrank_target_ranks_each_day_among_the_given_samples_only():
    from forecasting.universe.panel import cross_sectional_target

    y = np.array([0.01, -0.02, 0.03, 0.5, -0.5])
    pos = np.array([0, 0, 0, 1, 1])
    ranked = cross_sectional_target(y, pos, "csrank")
    assert ranked[:3] == pytest.approx((np.array([2, 1, 3]) / 3 - 0.5) * 3.46)
    excess = cross_sectional_target(y, pos, "excess")
    assert excess[3:] == pytest.approx([0.5, -0.5]) and excess[:3].sum() == pytest.approx(0)


def test_universe_mistakes_are_user_errors_before_any_training(make_cfg):
    from backtests.errors import UserError
    from backtests.settings.validate import validate

    with pytest.raises(UserError, match="universe.model='glob' is not valid"):
        validate(make_cfg("universe.model=glob"))
    with pytest.raises(UserError, match="has no data.path"):
        run_experiment(make_cfg("universe=folder"))
    with pytest.raises(UserError, match="not a ticker symbol"):
        run_experiment(make_cfg("universe.tickers=[AAA,../x]"))


def test_a_second_global_run_reuses_the_cached_forecasts_and_trains_nothing(make_cfg, tmp_path,
                                                                            monkeypatch):
    from forecasting.universe.models import GlobalLSTM

    folder = write_market(tmp_path / "prices", TICKERS[:3])
    cfg = universe_cfg(make_cfg, folder, "universe.model=global")
    run_experiment(cfg)
    first = (tmp_path / "run" / "predictions.csv").read_bytes()
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["forecasts"]["trained"] == 3
    for name in ("metrics.json", "predictions.csv", "run_info.json"):
        (tmp_path / "run" / name).unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("the second run trained the global model")

    monkeypatch.setattr(GlobalLSTM, "fit", no_training)
    run_experiment(universe_cfg(make_cfg, folder, "universe.model=global"))
    again = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert again["forecasts"]["trained"] == 0
    assert again["forecasts"]["cache_key"] == info["forecasts"]["cache_key"]
    assert (tmp_path / "run" / "predictions.csv").read_bytes() == first


def test_a_finished_universe_run_is_resumed_with_the_ic_it_returned(make_cfg, tmp_path, caplog):
    """A resumed sweep finds a universe run without a portfolio complete: it returns its IC again
    instead of running it (its metrics have no strategy block to read a Sharpe from)."""
    folder = write_market(tmp_path / "prices", TICKERS[:3])
    cfg = universe_cfg(make_cfg, folder, "forecaster=ridge", "universe.model=global")
    first = run_experiment(cfg)
    with caplog.at_level(logging.INFO):
        again = run_experiment(cfg)
    assert again == first != 0.0
    assert "skipping: complete results" in caplog.text and "running again" not in caplog.text


def test_the_global_cache_key_moves_with_every_setting_that_changes_the_forecasts(make_cfg, tmp_path):
    from backtests.pipeline.universe import global_key
    from backtests.stages.markets import load_markets

    folder = write_market(tmp_path / "prices", TICKERS[:3])
    base = ("universe.model=global",)
    markets = load_markets(universe_cfg(make_cfg, folder, *base)).markets
    key = lambda *extra: global_key(universe_cfg(make_cfg, folder, *base, *extra), markets)
    changing = [("universe.target=excess",), ("universe.embedding=2",), ("universe.market_input=null",),
                ("universe.batch_size=512",), ("universe.warm_samples=0",), ("universe.val_samples=0",),
                ("seed=7",), ("forecaster.units=8",), ("walkforward.retrain_every=40",),
                ("~features.columns.rsi",)]
    keys = [key(), *(key(*c) for c in changing)]
    assert len(set(keys)) == len(keys)
    for same in (("universe.n_jobs=2",), ("universe.spread_quantile=0.3",), ("strategy=topk",),
                 ("report.tearsheet=true",), ("universe.executor=dask", "universe.dask.address=tcp://h:8786")):
        assert key(*same) == keys[0], same
    other = {**markets, "AAA": markets["BBB"]}  # one ticker's prices differ
    assert global_key(universe_cfg(make_cfg, folder, *base), other) != keys[0]


def test_a_member_with_a_missing_cell_or_an_inverted_bar_stays_in_the_universe(make_cfg, tmp_path):
    """Issue 23: one broken cell is repaired and reported with its date, as in a single run; the
    ticker is never dropped for it."""
    folder = write_market(tmp_path / "prices")
    for ticker, column, row in (("BBB", "Open", 150), ("CCC", "High", 250)):
        frame = pd.read_csv(folder / f"{ticker}.csv")
        frame.loc[row, column] = np.nan if column == "Open" else frame.loc[row, "Low"] * 0.95
        frame.to_csv(folder / f"{ticker}.csv", index=False)
    run_experiment(universe_cfg(make_cfg, folder, "forecaster=ridge", "universe.model=global"))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["universe"]["left_out"] == {} and set(metrics["per_ticker"]) == set(TICKERS)
    found = {t: {f["kind"]: f["dates"] for f in metrics["data"][t]["quality"]["findings"]}
             for t in ("BBB", "CCC")}
    dates = pd.read_csv(folder / "AAA.csv")["Date"]
    assert found["BBB"]["Open missing"] == [dates[150]]
    assert found["CCC"]["High or Low missing, or High below Low"] == [dates[250]]


def test_a_new_listing_without_a_single_runs_history_trades_and_gets_no_risk_forecasts_yet(
        make_cfg, tmp_path, caplog):
    """The global model forecasts a 120-bar listing; its own risk walk-forward (a single run's)
    cannot run yet: it is skipped with a warning, and the run trades and writes var.csv."""
    folder = write_market(tmp_path / "prices", bars=600, short={"DDD": 120})
    cfg = make_cfg(*CSV, f"data.path={folder}", "universe=folder", "universe.n_jobs=1",
                   "forecaster=ridge", "universe.model=global", "strategy=topk", "strategy.k=2",
                   "report.plots=false")
    with caplog.at_level(logging.WARNING):
        run_experiment(cfg)
    assert "universe risk forecasts: none for DDD" in caplog.text
    var = pd.read_csv(tmp_path / "run" / "var.csv")
    assert "DDD" not in set(var["asset"]) and {"AAA", "portfolio"} <= set(var["asset"])
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert "DDD" in set(predictions["ticker"])
