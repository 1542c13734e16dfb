"""mode=zoo: every model x feature set on one universe, several seeds, scored as qlib's table."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from backtests.errors import UserError
from backtests.modes.experiment import run_experiment
from backtests.modes.zoo import build_zoo, group_options
from forecasting.universe.benchmark import against, daily_scores, fit_scores
from tests.conftest import CONF, FAST, ROOT

TICKERS = "universe.tickers=[AAA,BBB,CCC,DDD,EEE]"
BASE = [*FAST, TICKERS, "universe.model=global", "risk_model.enabled=false"]


def _long(forecast: np.ndarray, actual: np.ndarray, today: np.ndarray) -> pd.DataFrame:
    """Long-form rows: day d, ticker t (arrays shaped days x tickers)."""
    days, names = actual.shape
    dates = pd.bdate_range("2020-01-01", periods=days)
    return pd.DataFrame({"date": np.repeat(dates, names), "ticker": np.tile(list("ABCDEF"[:names]), days),
                         "forecast": forecast.ravel(), "actual": actual.ravel(),
                         "reversal": -today.ravel(), "scored": 1})


def test_scores_by_hand_on_a_tiny_panel():
    actual = np.array([[0.03, 0.01, -0.01, -0.02], [0.00, 0.02, 0.01, -0.03]])
    forecast = np.array([[4.0, 3.0, 2.0, 1.0], [2.0, 4.0, 3.0, 1.0]])  # ranks tomorrow perfectly
    today = np.array([[0.01, 0.0, 0.0, 0.01], [0.02, -0.01, 0.0, 0.0]])
    long = _long(forecast, actual, today)
    daily = daily_scores(long, top_k=2)
    assert daily["rank_ic"].tolist() == pytest.approx([1.0, 1.0])
    # the top two minus the day's mean: (0.03 + 0.01) / 2 - 0.0025, (0.02 + 0.01) / 2 - 0.0
    assert daily["topk_excess"].tolist() == pytest.approx([0.0175, 0.015])
    scores = fit_scores(long, daily, seconds=2.5)
    assert scores["topk_excess"] == pytest.approx(252 * 0.01625)
    assert scores["topk_ir"] == pytest.approx(0.01625 / np.std([0.0175, 0.015], ddof=1) * math.sqrt(252))
    persistence = np.mean((today - actual) ** 2)
    assert scores["mse_vs_persistence"] == pytest.approx(np.mean((forecast - actual) ** 2) / persistence)
    assert scores["ic"] == pytest.approx(daily["ic"].mean()) and scores["train_seconds"] == 2.5


def test_the_paired_test_finds_a_better_model_and_not_the_baseline_itself():
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2020-01-01", periods=400)
    base = pd.DataFrame({"ic": rng.normal(0.0, 0.1, 400), "rank_ic": rng.normal(0.0, 0.1, 400)}, dates)
    better = base + 0.05 + pd.DataFrame(rng.normal(0, 0.02, (400, 2)), dates, ["ic", "rank_ic"])
    table = against({("lstm", "f"): base, ("gbm", "f"): better, ("gbm", "other"): better}, "lstm")
    rows = table.set_index(["model", "features"])
    assert rows.loc[("gbm", "f"), "ic_vs_base"] == pytest.approx(0.05, abs=0.005)
    assert rows.loc[("gbm", "f"), "ic_vs_base_p"] < 1e-6
    assert math.isnan(rows.loc[("lstm", "f"), "ic_vs_base"])
    assert math.isnan(rows.loc[("gbm", "other"), "ic_vs_base"])  # no baseline on that feature set


def test_every_option_of_the_forecaster_and_features_groups_joins_the_zoo():
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        models, sets = group_options("forecaster"), group_options("features")
    assert models == sorted(p.stem for p in (ROOT / "conf" / "forecaster").glob("*.yaml"))
    assert sets == sorted(p.stem for p in (ROOT / "conf" / "features").glob("*.yaml"))


def refusing(choice: str):
    """The composer, refusing the combinations with `choice` as the settings refuse one."""
    def build(overrides: list[str]):
        if choice in overrides:
            raise UserError(f"{choice} is refused here", "a test's refusal")
        return compose("config", overrides=overrides)
    return build


def test_the_default_zoo_is_every_option_but_the_tiny_presets():
    from backtests.modes.zoo import _chosen

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        models = _chosen("forecaster", None, ["*_tiny"])
    assert "lstm" in models and "ridge" in models and not any(m.endswith("_tiny") for m in models)


def test_zoo_on_a_tiny_synthetic_universe(tmp_path: Path, make_cfg):
    out = tmp_path / "zoo"
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[*BASE, "mode=zoo"])
        with open_dict(cfg):
            cfg.paths.output_dir = str(out)
            cfg.paths.cache_dir = str(tmp_path / "cache")
            cfg.paths.results_dir = str(tmp_path / "results")
        table = build_zoo(cfg, BASE, refusing("forecaster=gru_tiny"),
                          forecasters=["lstm_tiny", "ridge", "gru_tiny"], features=["default"],
                          exclude=[], seeds=[1, 2], baseline="lstm_tiny", top_k=2)
    rows = table.set_index("model")
    assert set(rows.index) == {"lstm_tiny", "ridge"} and (rows["seeds"] == 2).all()
    assert rows.loc["ridge", "ic_std"] == 0  # ridge is deterministic; the LSTM's seeds differ
    assert rows.loc["lstm_tiny", "ic_std"] > 0
    assert math.isnan(rows.loc["lstm_tiny", "ic_vs_base"]) and 0 <= rows.loc["ridge", "ic_vs_base_p"] <= 1
    daily = pd.read_csv(out / "zoo_ic.csv", parse_dates=["date"])
    days = {key: tuple(group["date"]) for key, group in daily.groupby(["model", "seed"])}
    assert len(days) == 4 and len(set(days.values())) == 1  # the same test days for every fit
    # ridge's IC is what a plain universe run of it reports over the same days (the same seed-42
    # market: the zoo loads the run's data once, whatever seed each fit gets)
    plain = tmp_path / "plain"
    run_experiment(_in(make_cfg(TICKERS, "universe.model=global", "risk_model.enabled=false",
                                "forecaster=ridge"), plain))
    reported = pd.read_csv(plain / "ic_daily.csv", index_col="date", parse_dates=True)
    same = reported.loc[reported.index.isin(daily["date"])]
    assert len(same) == rows.loc["ridge", "days"]
    assert rows.loc["ridge", "ic"] == pytest.approx(same["ic"].mean())
    assert rows.loc["ridge", "rank_ic"] == pytest.approx(same["rank_ic"].mean())
    page = (out / "zoo.html").read_text()
    assert "gru_tiny / default" in page and "refused here" in page  # left out, and why
    assert (out / "zoo.png").is_file() and "data:image/png;base64" in page
    walk = cfg.walkforward  # how every fit was retrained is on the page beside the table
    assert f"first fit on {walk.initial_train} bars, retrained every {walk.retrain_every}" in page


def _in(cfg, folder: Path):
    with open_dict(cfg):
        cfg.paths.output_dir = str(folder)
    return cfg


def test_zoo_refuses_a_single_ticker_and_an_unknown_model(tmp_path: Path):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        single = compose("config", overrides=[*FAST, "mode=zoo"])
        universe = compose("config", overrides=[*BASE, "mode=zoo"])
        again = lambda o: compose("config", overrides=o)  # noqa: E731
        settings = {"features": None, "exclude": [], "seeds": [1], "top_k": 2}
        with pytest.raises(UserError, match="needs a universe"):
            build_zoo(single, FAST, again, forecasters=["ridge"], baseline="ridge", **settings)
        with pytest.raises(UserError, match="gbm is not an option of conf/forecaster/"):
            build_zoo(universe, BASE, again, forecasters=["ridge", "gbm"], baseline="ridge", **settings)
        with pytest.raises(UserError, match="mode.baseline=lstm is not among"):
            build_zoo(universe, BASE, again, forecasters=["ridge"], baseline="lstm", **settings)


def test_the_paired_tests_are_holm_adjusted_over_the_table():
    """Ten models against one, each p raw and adjusted: the adjusted p of the smallest raw p is ten
    times it, and a model with no test does not count in the family."""
    rng = np.random.default_rng(1)
    dates = pd.bdate_range("2020-01-01", periods=300)
    base = pd.DataFrame({"ic": rng.normal(0.0, 0.1, 300), "rank_ic": rng.normal(0.0, 0.1, 300)}, dates)
    daily = {("lstm", "f"): base}
    for k in range(10):
        daily[(f"m{k}", "f")] = base + pd.DataFrame(rng.normal(0.004 * k, 0.1, (300, 2)), dates,
                                                   ["ic", "rank_ic"])
    rows = against(daily, "lstm").set_index("model")
    raw, holm = rows["ic_vs_base_p"].dropna(), rows["ic_vs_base_p_holm"].dropna()
    assert len(holm) == 10 and (holm >= raw).all()
    assert holm[raw.idxmin()] == pytest.approx(min(1.0, 10 * raw.min()))
    assert math.isnan(rows.loc["lstm", "ic_vs_base_p_holm"])
