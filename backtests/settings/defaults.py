"""Each setting's default lives in one place: the conf/ option that sets it.

The components a `_target_` builds (forecasters, walk-forward, features, explainer, risk-model,
sentiment and universe settings, price sources and quality policy, risk rules, ledger, logger) take
their settings as required keyword arguments, so a default is never written twice
(tests/test_defaults.py). Code that builds one outside Hydra (the ridge baseline, "no risk rules",
the hint's example of a valid value, the tests) reads the option's YAML here instead of keeping a
number of its own.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def option(group: str, name: str) -> dict[str, Any]:
    """The keys conf/<group>/<name>.yaml sets, unresolved, with the ones its defaults list brings.

    A defaults entry naming an option of the same group (lstm_tiny on lstm) is merged in, one
    naming a sub-group (`quality: default` in data/csv) fills that key; `_self_` sets the order
    (last when absent, as in Hydra). Optional and absolute entries (conf/local/) are skipped: the
    shipped defaults are what this returns. A copy: the caller may change it.
    """
    return OmegaConf.to_container(_option(group, name), resolve=False)  # type: ignore[return-value]


def shipped(group: str, name: str, **changes: Any) -> dict[str, Any]:
    """An option's settings as keyword arguments for its class (no `_target_`), with `changes`."""
    values = {str(k): v for k, v in option(group, name).items() if not str(k).startswith("_")}
    return {**values, **changes}


def run_choices(cfg: DictConfig) -> Any:
    """The option chosen in each group (hydra.runtime.choices), None outside a Hydra run."""
    choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None)
    if choices is None and HydraConfig.initialized():
        choices = HydraConfig.get().runtime.choices
    return choices


def chosen_default(cfg: DictConfig, key: str) -> Any:
    """The value the run's chosen option of `key`'s group gives it (`walkforward.gap`: 1 from
    conf/walkforward/default.yaml); None when unknown. For hints: an example that is valid."""
    choices = run_choices(cfg)
    group, _, rest = key.partition(".")
    choice = choices.get(group) if choices is not None else None
    if not isinstance(choice, str):
        return None
    try:
        values = _option(group, choice)  # read, never changed: no copy (a check reads ~180 keys)
    except FileNotFoundError:
        return None
    value = OmegaConf.select(values, rest, default=None, throw_on_resolution_failure=False)
    return None if isinstance(value, (DictConfig, ListConfig)) else value


@functools.cache
def _option(group: str, name: str) -> DictConfig:
    path = CONF_DIR / group / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no config option {group}/{name} ({path})")
    own = OmegaConf.load(path)
    assert isinstance(own, DictConfig)
    entries = list(own.pop("defaults", None) or [])
    if "_self_" not in entries:
        entries.append("_self_")
    merged: Any = OmegaConf.create()
    for entry in entries:
        if entry == "_self_":
            merged = OmegaConf.merge(merged, own)
        elif isinstance(entry, str):
            merged = OmegaConf.merge(merged, _option(group, entry))
        else:
            for key, choice in entry.items():
                if not str(key).startswith(("optional", "/", "override")):
                    merged = OmegaConf.merge(merged, {key: _option(f"{group}/{key}", str(choice))})
    assert isinstance(merged, DictConfig)
    return merged
