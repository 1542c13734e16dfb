"""The config composes, every group option instantiates, and a misspelt key fails loudly."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate

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
    assert source.ticker == "MSFT"


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


@pytest.mark.parametrize("name", _options("experiment"))
def test_every_shipped_experiment_runs(make_cfg, name, monkeypatch, tmp_path):
    """`python run.py experiment=NAME`, shrunk by the test preset; Yahoo is a stand-in."""
    from backtests.data import yahoo
    from backtests.data.synthetic import synthetic_bars
    from backtests.modes.experiment import run_experiment

    monkeypatch.setattr(yahoo, "_download", lambda ticker: synthetic_bars(900, seed=7).rename_axis("Date"))
    cfg = make_cfg(f"experiment={name}", "debug=test", "report.plots=false", fast=False)
    sharpe = run_experiment(cfg)
    assert isinstance(sharpe, float) and (tmp_path / "run" / "metrics.json").exists()


def test_debug_preset_shrinks_any_forecaster(make_cfg):
    lstm = make_cfg("debug=default", fast=False)
    assert (lstm.forecaster.units, lstm.forecaster.window, lstm.walkforward.initial_train) == (4, 10, 200)
    ridge = make_cfg("debug=default", "forecaster=ridge", fast=False)
    assert ridge.forecaster._target_.endswith("RidgeForecaster") and ridge.forecaster.window == 10
    assert not ridge.report.tearsheet
