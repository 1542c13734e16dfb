"""The config composes, every group option instantiates, and a misspelt key fails loudly."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from backtests.pipeline.costs import BrokerSettings
from backtests.settings.strategy import strategy_class_and_params
from strategies.base import RiskManagedStrategy
from strategies.portfolio.base import PortfolioStrategy
from tests.conftest import CONF


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF) / group).glob("*.yaml"))


def test_primary_config_has_the_documented_keys(make_cfg):
    cfg = make_cfg(fast=False)
    for key in ("ticker", "seed", "data.start", "data.end", "paths.cache_dir", "forecaster.window",
                "forecaster.epochs", "broker.cash", "broker.commission", "broker.slippage"):
        node, *rest = key.split(".")
        assert node in cfg and (not rest or rest[0] in cfg[node]), key
    assert cfg.data._target_.endswith("YahooSource")  # yfinance is the default source


@pytest.mark.parametrize("option", _options("data"))
def test_every_data_source_instantiates(make_cfg, option, tmp_path):
    cfg = make_cfg(f"data={option}", *(["data.path=" + str(tmp_path)] if option == "csv" else []))
    source = instantiate(cfg.data)
    # The synthetic market is labelled as what it is, never as a real symbol (README's debug run).
    assert source.ticker == cfg.ticker == ("SYN" if option == "synthetic" else "MSFT")
    assert instantiate(make_cfg(f"data={option}", "ticker=XYZ", *(
        ["data.path=" + str(tmp_path)] if option == "csv" else [])).data).ticker == "XYZ"


@pytest.mark.parametrize("option", _options("strategy"))
def test_every_strategy_resolves(make_cfg, option):
    section = make_cfg(f"strategy={option}").strategy
    cls, params = strategy_class_and_params(section)
    assert issubclass(cls, (RiskManagedStrategy, PortfolioStrategy))
    assert cls.__name__ == section._target_.rpartition(".")[2]
    assert params == {k: v for k, v in section.items() if k != "_target_"}


@pytest.mark.parametrize("option", _options("forecaster"))
def test_every_forecaster_instantiates(make_cfg, option):
    forecaster = instantiate(make_cfg(f"forecaster={option}").forecaster)
    assert forecaster.window > 0 and hasattr(forecaster, "fit") and hasattr(forecaster, "predict")


def test_features_walkforward_broker_and_mode_instantiate(make_cfg):
    cfg = make_cfg()
    builder = instantiate(cfg.features)
    assert "log_return" in builder.names and callable(builder.columns["rsi"])
    assert instantiate(cfg.walkforward).retrain_every == 60
    assert isinstance(instantiate(cfg.broker), BrokerSettings)
    assert callable(instantiate(cfg.mode))


def test_misspelt_key_fails_loudly():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        with pytest.raises(ConfigCompositionException, match="windw"):
            compose("config", overrides=["forecaster.windw=3"])


def test_unknown_strategy_param_names_the_closest(make_cfg):
    from omegaconf import open_dict

    from backtests.errors import UserError

    cfg = make_cfg()
    with open_dict(cfg):
        cfg.strategy.entri = 0.1
    with pytest.raises(UserError, match="entri") as info:
        strategy_class_and_params(cfg.strategy)
    assert "entry" in (info.value.hint or "")


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every setting a YAML file sets, as dotted keys (its `defaults` list left out)."""
    found: dict[str, Any] = {}
    for key, value in (node or {}).items():
        if key == "defaults":
            continue
        if isinstance(value, dict):
            found.update(_leaves(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value
    return found


def _yaml(*parts: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(Path(CONF, *parts)))  # type: ignore[return-value]


@pytest.mark.parametrize("name", _options("experiment"))
def test_every_shipped_experiment_runs_with_its_settings(make_cfg, name, monkeypatch, tmp_path):
    """`python run.py experiment=NAME`, shrunk by the debug preset; Yahoo is a stand-in.

    The run must record (run_info.json) and use (metrics.json, report.html) every setting the
    experiment makes that the debug preset does not replace, and return the Sharpe it wrote.
    """
    from backtests.data import yahoo
    from backtests.data.synthetic import synthetic_bars
    from backtests.modes.experiment import run_experiment

    monkeypatch.setattr(yahoo, "_download", lambda ticker: synthetic_bars(900, seed=7).rename_axis("Date"))
    sharpe = run_experiment(make_cfg(f"experiment={name}", "debug=default", fast=False))
    folder = tmp_path / "run"
    recorded = OmegaConf.create(json.loads((folder / "run_info.json").read_text())["config"])
    metrics = json.loads((folder / "metrics.json").read_text())
    experiment, debug = _yaml("experiment", f"{name}.yaml"), _leaves(_yaml("debug", "default.yaml"))
    wanted = {k: v for k, v in _leaves(experiment).items() if k not in debug}
    for entry in experiment.get("defaults", []):  # `override /strategy: lstm_long_short`, ...
        for group, option in entry.items():
            group = group.removeprefix("override ").strip("/")
            chosen = _leaves(_yaml(group, f"{option}.yaml"), f"{group}.")
            wanted.update({k: v for k, v in chosen.items() if k not in wanted and k not in debug
                           and "${" not in str(v)})  # interpolations: checked where they lead
    assert wanted, name
    for key, value in wanted.items():
        assert OmegaConf.select(recorded, key) == value, (name, key)
    # ... and the run used them: the data, the ticker and the strategy it reports.
    data = metrics["data"]
    assert data["ticker"] == recorded.ticker == wanted["ticker"]
    assert data["rows"] == wanted.get("data.bars", 900)
    assert f"<h1>{recorded.ticker} · " in (folder / "report.html").read_text()
    if wanted.get("data.start"):
        assert data["first_date"] >= str(wanted["data.start"])
    assert sharpe == (metrics["strategy"]["sharpe"] if metrics["strategy"]["sharpe"] is not None
                      else 0.0)


def test_debug_preset_shrinks_any_forecaster(make_cfg):
    lstm = make_cfg("debug=default", fast=False)
    assert (lstm.forecaster.units, lstm.forecaster.window, lstm.walkforward.initial_train) == (4, 10, 200)
    ridge = make_cfg("debug=default", "forecaster=ridge", fast=False)
    assert ridge.forecaster._target_.endswith("RidgeForecaster") and ridge.forecaster.window == 10
    assert not ridge.report.tearsheet
    # the slow extras are off (README: the debug run's seconds), and a synthetic market is short
    assert (lstm.report.plots, lstm.report.explain, list(lstm.risk_model.methods)) == (
        False, False, ["historical", "ewma", "garch"])
    assert make_cfg("debug=default", "data=synthetic", fast=False).data.bars == 750
    assert make_cfg("data=synthetic", fast=False).data.bars == 2520
