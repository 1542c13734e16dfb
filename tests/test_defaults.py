"""Each setting's default lives in one place: the conf/ option (backtests/settings/defaults.py)."""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_object
from omegaconf import OmegaConf

from backtests.errors import UserError
from backtests.settings.defaults import option, shipped
from backtests.settings.validate import validate
from tests.builders import build, settings
from tests.conftest import CONF

PROJECT = ("forecasting.", "backtests.", "strategies.")
# Targets whose class may keep a default for a key conf/ sets, each with its reason.
EXEMPT = {
    # backtrader declares a strategy's parameters as (name, default) pairs: no param without one.
    **{f"strategies.{name}": "backtrader params need a default"
       for name in ("buy_and_hold.BuyAndHold", "lstm_long_short.LSTMLongShort",
                    "lstm_momentum.LSTMMomentum", "portfolio.market_neutral.MarketNeutral",
                    "sma_cross.SmaCross", "portfolio.topk.TopK", "lstm_probability.LSTMProbability")},
}


def _nodes(node: Any, where: str) -> Iterator[tuple[str, dict]]:
    """(where, node) for every mapping in a YAML file that names a `_target_`, nested ones too."""
    if isinstance(node, dict):
        if isinstance(node.get("_target_"), str):
            yield where, node
        for key, value in node.items():
            yield from _nodes(value, f"{where}.{key}")


def _targets() -> list[tuple[str, str, list[str]]]:
    """(file:path, target, keys the YAML sets) for every project `_target_` under conf/."""
    found = []
    for path in sorted(Path(CONF).rglob("*.yaml")):
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        for where, node in _nodes(raw, str(path.relative_to(CONF))):
            if node["_target_"].startswith(PROJECT):
                found.append((where, node["_target_"], [str(k) for k in node if not str(k).startswith("_")]))
    return found


def signature_defaults(target: Any) -> dict[str, Any]:
    """The defaults a class or function states itself: signature (dataclass fields included), or
    a backtrader strategy's params."""
    params = getattr(target, "params", None)
    if isinstance(target, type) and hasattr(params, "_getkwargsdefault"):
        return dict(params._getkwargsdefault())
    defaults = {name: p.default for name, p in inspect.signature(target).parameters.items()
                if p.default is not inspect.Parameter.empty}
    if dataclasses.is_dataclass(target):
        defaults.update({f.name: f.default for f in dataclasses.fields(target)
                         if f.default is not dataclasses.MISSING
                         or f.default_factory is not dataclasses.MISSING})
    return defaults


def test_every_project_target_is_found():
    targets = {target for _, target, _ in _targets()}
    assert {"forecasting.lstm.LSTMForecaster", "forecasting.walkforward.WalkForward",
            "backtests.data.universe.Universe", "forecasting.features.RSI"} <= targets


@pytest.mark.parametrize("where,target,keys", _targets(), ids=[w for w, _, _ in _targets()])
def test_no_default_is_written_twice(where, target, keys):
    """A key conf/ sets has no default in its class: the YAML is the one place users read and
    override (docs/configuration.md is checked against it), so a second copy could only drift."""
    if target in EXEMPT:
        pytest.skip(EXEMPT[target])
    twice = sorted(set(keys) & set(signature_defaults(get_object(target))))
    assert not twice, f"{where}: {target} also defaults {twice}; drop them from its signature"


def test_the_check_sees_a_default_written_twice():
    """The check itself: a dataclass or an __init__ default is found (the old WalkForward's)."""

    @dataclasses.dataclass
    class Old:
        gap: int = 1
        mode: str = dataclasses.field(default_factory=lambda: "expanding")

    class Older:
        def __init__(self, window: int = 30, *, alpha: float) -> None: ...

    assert set(signature_defaults(Old)) == {"gap", "mode"}
    assert set(signature_defaults(Older)) == {"window"}
    assert "entry" in signature_defaults(get_object("strategies.lstm_momentum.LSTMMomentum"))


def test_an_option_merges_what_its_defaults_list_names():
    tiny = option("forecaster", "lstm_tiny")  # on top of lstm: its own keys win, the rest inherited
    assert tiny["units"] == 4 and tiny["learning_rate"] == option("forecaster", "lstm")["learning_rate"]
    assert option("data", "csv")["quality"]["_target_"] == "backtests.data.quality.QualityPolicy"
    assert option("universe", "dow30")["embedding"] == option("universe", "single")["embedding"]
    assert "_target_" not in shipped("forecaster", "ridge", window=5)


def test_builders_take_the_conf_defaults_and_the_tests_changes():
    walk = build("walkforward/default", initial_train=100)
    assert walk.initial_train == 100 and walk.gap == option("walkforward", "default")["gap"]
    alpha = option("forecaster", "ridge")["alpha"]
    assert settings("forecaster/ridge", window=5) == {"window": 5, "alpha": alpha}
    with pytest.raises(TypeError, match="seed"):  # a run setting the YAML interpolates
        build("explain/default", ["x"])


def _compose(*overrides: str) -> Any:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=["debug=test", "data=synthetic", *overrides],
                       return_hydra_config=True)


def test_the_hint_of_a_bad_value_shows_the_shipped_default():
    """With no class default the example is the chosen option's value, not an arbitrary one."""
    with pytest.raises(UserError) as info:
        validate(_compose("walkforward.initial_train=0"))
    assert info.value.hint == "e.g. walkforward.initial_train=756"
    with pytest.raises(UserError) as info:
        validate(_compose("forecaster.units=0"))  # debug=test picks lstm_tiny: its 4
    assert info.value.hint == "e.g. forecaster.units=4"


@pytest.mark.parametrize("override,key,hint", [
    ("~walkforward.gap", "walkforward.gap", "add +walkforward.gap=1 (the shipped default)"),
    ("+features.columns.rsi2._target_=forecasting.features.RSI", "features.columns.rsi2.period",
     "add +features.columns.rsi2.period=2"),
])
def test_a_setting_without_a_value_is_refused_before_any_data(override, key, hint):
    """Classes keep no defaults, so a deleted key or a bare added node would fail at instantiation,
    after the data are loaded, as a TypeError: it is one error line instead, before anything."""
    with pytest.raises(UserError) as info:
        validate(_compose(override))
    assert info.value.message.startswith(f"{key} is not set") and info.value.hint == hint
