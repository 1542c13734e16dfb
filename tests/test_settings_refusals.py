"""Settings that cannot work are refused before any data is read: keys no component takes, keys a
machine's conf/local leaks into another source, contradictory combinations, universes too small to
score, and a search space naming a setting the chosen component lacks."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from backtests.errors import UserError, as_user_error
from backtests.settings.validate import validate
from forecasting.universe.cross_section import ic_by_fold
from tests.conftest import FAST, ROOT, run_cli


def _refused(cfg) -> UserError:
    with pytest.raises(UserError) as info:
        validate(cfg)
    assert "\n" not in info.value.message and info.value.hint
    return info.value


# Defect 3: every `_target_` component's keys are checked against what it takes, before any data.

@pytest.mark.parametrize("key", [
    "walkforward.horizon", "forecaster.target", "features.columns.rsi.perod", "data.quality.foo",
    "data.foo", "broker.fee", "strategy.foo", "risk.new_rule", "risk_model.foo", "explain.foo",
    "sentiment.foo", "universe.foo", "universe.market_input.foo", "ledger.foo", "mode.foo",
])
def test_a_key_no_component_takes_is_refused_even_when_added_with_plus(make_cfg, key):
    error = _refused(make_cfg(f"+{key}=1"))
    assert error.message.startswith(f"{key} is not a setting")
    assert "+" not in error.hint  # adding it again with + cannot help


def test_the_refusal_suggests_the_close_match(make_cfg):
    error = _refused(make_cfg("forecaster=ridge", "+forecaster.alfa=1"))
    assert error.message == "forecaster.alfa is not a setting: RidgeForecaster takes no 'alfa'"
    assert error.hint.startswith("did you mean forecaster.alpha? forecaster settings: alpha, window")


@pytest.mark.parametrize("overrides", [
    ["universe=dow30", "strategy=topk", "logger=mlflow"], ["strategy=market_neutral", "universe=dow30"],
    ["mode=audit"], ["mode=inspect"], ["mode=ledger"], ["mode=predict"], ["data=yfinance"],
    ["forecaster=ridge"], ["experiment=msft_risk_managed"], ["experiment=synthetic_demo"],
])
def test_every_shipped_option_passes_the_key_check(make_cfg, overrides):
    validate(make_cfg(*overrides))


def test_the_hint_suggests_plus_only_for_a_key_the_component_takes(tmp_path):
    from backtests.settings.keys import can_take

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    lstm = conf / "forecaster" / "lstm.yaml"  # a key LSTMForecaster takes, missing from its yaml
    lstm.write_text("".join(line for line in lstm.read_text().splitlines(True)
                            if not line.startswith("patience")))

    def hint(override: str) -> str:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            with pytest.raises(ConfigCompositionException) as info:
                compose("config", overrides=[override])
        error = as_user_error(info.value, can_take=can_take)
        assert error is not None and error.hint is not None
        return error.hint

    assert "add a new key with +forecaster.patience=" in hint("forecaster.patience=2")
    assert "+" not in hint("walkforward.horizon=5")


def test_following_the_old_hint_ends_in_one_line_before_any_data(tmp_path):
    for args in (["+walkforward.horizon=5"], ["+forecaster.target=direction"]):
        done = run_cli(*FAST, *args, f"paths.results_dir={tmp_path}", cwd=tmp_path, timeout=120)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-1500:]
        assert [line.split(":")[0] for line in lines] == ["error", "hint"], lines
        assert lines[0].startswith(f"error: {args[0][1:].split('=')[0]} is not a setting")
    assert not (tmp_path / "runs").exists()  # refused before the run folder


# Defect 4: a machine's conf/local never leaks a key into a source that does not take it.

def _local_conf(tmp_path: Path, default: str, csv: str | None = None) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    (conf / "local" / "default.yaml").write_text(default)
    if csv is not None:
        (conf / "local" / "data").mkdir()
        (conf / "local" / "data" / "csv.yaml").write_text(csv)
    return conf


def _compose(conf: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_the_readme_local_settings_reach_csv_only(tmp_path):
    conf = _local_conf(tmp_path, "# @package _global_\ndefaults:\n  - override /data: csv\n",
                       csv=f"path: {tmp_path}\n")
    assert _compose(conf).data.path == str(tmp_path)  # csv, the local default, gets the folder
    assert _compose(conf, "data.path=/elsewhere").data.path == "/elsewhere"  # the command line wins
    for overrides in (["data=synthetic"], ["data=yfinance"], ["experiment=synthetic_demo"]):
        cfg = _compose(conf, *overrides, "debug=default")
        assert "path" not in cfg.data
        validate(cfg)


def test_a_local_default_that_leaks_a_key_is_refused_in_one_line(tmp_path):
    conf = _local_conf(tmp_path, "# @package _global_\ndefaults:\n  - override /data: csv\n"
                                 f"data:\n  path: {tmp_path}\n")
    error = _refused(_compose(conf, "data=synthetic"))
    assert error.message == "data.path is not a setting: SyntheticSource takes no 'path'"
    assert "conf/local/data/<source>.yaml" in error.hint
    done = run_cli("--config-path", str(conf), "data=synthetic", f"paths.results_dir={tmp_path}",
                   cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: data.path is not a setting"), done.stderr[-1500:]


# Defect 2: a cross-section needs three names: refused in the settings, after loading, and never a
# crash in the scoring of days with fewer.

@pytest.mark.parametrize("tickers", ["[AAA,BBB]", "[AAA]", "[AAA,BBB,AAA]"])
def test_a_universe_list_of_fewer_than_three_tickers_is_refused(make_cfg, tickers):
    error = _refused(make_cfg(f"universe.tickers={tickers}", "universe.model=global"))
    assert error.message.startswith("universe.tickers=") and "at least 3" in error.message


def test_tickers_dropped_at_load_leaving_two_are_named_before_any_forecast(make_cfg, tmp_path,
                                                                           monkeypatch):
    from backtests.modes.experiment import run_experiment
    from backtests.stages import chain
    from tests.test_universe import universe_cfg, write_market

    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"], short={"CCC": 30})

    def no_forecast(*args, **kwargs):
        raise AssertionError("forecasts were made")

    monkeypatch.setattr(chain, "forecast_stage", no_forecast)
    cfg = universe_cfg(make_cfg, folder, "forecaster=ridge", "universe.model=global")
    validate(cfg)
    with pytest.raises(UserError) as info:
        run_experiment(cfg)
    message = info.value.message
    assert message.startswith("only 2 of 3 tickers can be used and a universe needs 3")
    assert "left out: CCC (" in message and "bars" in message  # which, and why


def _long(tickers: str, days: range, fold_length: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=20)
    return pd.DataFrame([{"date": dates[i], "ticker": t, "forecast": rng.normal(),
                          "actual": rng.normal(), "ridge": rng.normal(), "fold": i // fold_length}
                         for t in tickers for i in days])


def test_ic_by_fold_scores_nothing_from_two_names_without_crashing():
    table = ic_by_fold(_long("AB", range(20)), ["forecast", "ridge"])
    assert table.empty and list(table.columns) == ["forecast_ic", "forecast_rank_ic", "days", "start",
                                                   "ridge_ic", "ridge_rank_ic"]


def test_ic_by_fold_leaves_out_days_and_folds_under_three_names():
    long = pd.concat([_long("AB", range(20)), _long("C", range(12, 20), seed=1)])
    table = ic_by_fold(long, ["forecast"])
    assert list(table.index) == [2, 3] and list(table["days"]) == [3, 5]
    assert table.loc[2, "start"] == pd.bdate_range("2020-01-01", periods=20)[12].date().isoformat()
    day = long[long["date"] == long["date"].max()]
    assert table.loc[3, "forecast_ic"] == pytest.approx(np.mean([
        np.corrcoef(d["forecast"], d["actual"])[0, 1]
        for _, d in long[long["fold"] == 3].groupby("date")]))
    assert len(day) == 3


# Defect 5: a setting that the rest would silently switch off is refused.

@pytest.mark.parametrize("overrides, key", [
    (["universe.tickers=[A,B,C]", "strategy=topk", "universe.model=global", "universe.target=csrank",
      "sentiment.regime_filter=true"], "sentiment.regime_filter=true"),
    (["universe.tickers=[A,B,C]", "strategy=topk", "sentiment.enabled=false",
      "sentiment.regime_filter=true"], "sentiment.regime_filter=true"),
    (["universe.tickers=[A,B,C]", "sentiment.regime_filter=true"], "sentiment.regime_filter=true"),
    (["sentiment.regime_filter=true"], "sentiment.regime_filter=true"),
    (["universe.tickers=[A,B,C]", "universe.target=csrank"], "universe.target=csrank"),
    (["universe.target=excess"], "universe.target=excess"),
    (["universe.model=global"], "universe.model=global"),
    (["risk.max_weight=0.2"], "risk.max_weight=0.2"),
    (["risk=conservative", "risk.max_gross=1.0"], "risk.max_gross=1.0"),
    (["strategy=sma_cross", "risk.max_net=0.5"], "risk.max_net=0.5"),
])
def test_a_setting_the_rest_would_ignore_is_refused(make_cfg, overrides, key):
    error = _refused(make_cfg(*overrides))
    assert error.message.startswith(key) and "ignored" in error.message


@pytest.mark.parametrize("overrides, start", [
    (["strategy=lstm_probability"], "strategy LSTMProbability reads the forecast distribution"),
    (["strategy=lstm_probability", "forecaster=lstm_dist", "strategy.horizon=10"],
     "strategy.horizon=10 is not one of forecaster.horizons=[1,5,20]"),
    (["universe.tickers=[A,B,C]", "strategy=topk", "strategy.rank_by=p_up"],
     "strategy.rank_by=p_up reads the forecast distribution"),
    (["universe.tickers=[A,B,C]", "universe.model=global", "strategy=topk", "strategy.rank_by=p_up",
      "forecaster=lstm_dist"],
     "strategy.rank_by=p_up reads each ticker's forecast distribution, but the global model"),
])
def test_a_distribution_reader_needs_a_distribution_forecaster(make_cfg, overrides, start):
    assert _refused(make_cfg(*overrides)).message.startswith(start)


@pytest.mark.parametrize("overrides", [
    ["strategy=lstm_probability", "forecaster=lstm_dist", "strategy.horizon=20"],
    ["universe.tickers=[A,B,C]", "strategy=topk", "strategy.rank_by=sharpe", "forecaster=lstm_dist"],
    ["universe.tickers=[A,B,C]", "strategy=topk", "sentiment.regime_filter=true"],
    ["universe.tickers=[A,B,C]", "report.explain=true"],  # per-ticker models are explained too
    ["universe.tickers=[A,B,C]", "strategy=market_neutral", "universe.model=global",
     "universe.target=excess", "sentiment.regime_filter=true", "report.explain=true"],
    ["universe.tickers=[A,B,C]", "strategy=topk", "universe.model=global", "universe.target=csrank",
     "risk=conservative", "risk.max_weight=0.3", "risk.max_gross=1.0"],
])
def test_consistent_combinations_pass(make_cfg, overrides):
    validate(make_cfg(*overrides))


# Friction: a search space naming a setting the chosen forecaster lacks says so, before any trial.

def test_a_search_space_key_the_chosen_forecaster_lacks_is_named_as_such():
    from backtests.settings.keys import check_search_space

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        ridge = compose("config", overrides=["hparams_search=optuna", "forecaster=ridge"],
                        return_hydra_config=True)
        lstm = compose("config", overrides=["hparams_search=optuna"], return_hydra_config=True)
    with pytest.raises(UserError) as info:
        check_search_space(ridge)
    assert info.value.message.startswith("the search space (hydra.sweeper.params) names "
                                         "forecaster.units, a setting the chosen forecaster")
    assert "RidgeForecaster" in info.value.message and "hydra.sweeper.params" in str(info.value.hint)
    check_search_space(lstm)


@pytest.mark.parametrize("overrides", [["data=synthetic"], ["data=csv", "data.path=/x"],
                                       ["data=yfinance", "universe=dow30", "strategy=topk",
                                        "logger=mlflow", "forecaster=ridge"]])
def test_every_shipped_component_declares_the_keys_it_takes(make_cfg, overrides):
    """A target taking **kwargs would switch the key check off for its group: none of ours does."""
    from backtests.settings.keys import _targets, accepted_keys

    for path, node in _targets(make_cfg(*overrides)):
        assert accepted_keys(node._target_) is not None, path


def test_the_three_name_hint_suggests_tickers_the_folder_holds(make_cfg, tmp_path):
    from tests.test_universe import write_market

    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "ZZZ"])
    error = _refused(make_cfg("data=csv", f"data.path={folder}", "universe.tickers=[AAA,BBB]",
                              "universe.model=global"))
    assert "universe.tickers=[AAA,BBB,ZZZ]" in (error.hint or "")
