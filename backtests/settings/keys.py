"""Every key of a `_target_` config names a setting its component takes, checked before any data.

Hydra refuses a misspelt key only when it is not added with `+`; a key added with `+` reaches the
component's constructor minutes later, after the data are loaded, as a TypeError. Here each node
with a `_target_` (a group such as `walkforward`, or a nested one such as `data.quality` or
`features.columns.rsi`) is held against what its target accepts: a class's or function's
signature, or a backtrader strategy's params. A target that takes **kwargs accepts anything; one
that does not import is left to instantiation, which reports it.
"""
from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Iterator
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from backtests.errors import UserError
from backtests.settings.bounds import bounds_of
from backtests.settings.defaults import chosen_default

# Set by the engine from other groups, never by the strategy's own keys.
ENGINE_PARAMS = frozenset({"start", "risk", "regime"})
# The usual reason a group holds a key its component cannot take, said in the hint.
_WHY = {"data": "a key of another price source? settings of one source belong in "
                "conf/local/data/<source>.yaml, never under data: in conf/local/default.yaml "
                "(conf/local/README.md)"}
# Checked last: their targets are the run modes, whose modules take seconds to import.
LAST = ("mode",)


def check_keys(cfg: DictConfig, groups: tuple[str, ...] | None = None) -> None:
    """Raise a UserError for the first key of a `_target_` node that its component cannot take.

    `groups` limits the check to those top-level groups (None: every one but LAST).
    """
    for path, node in _targets(cfg):
        top = path.split(".")[0]
        if (top in LAST) if groups is None else (top not in groups):
            continue
        target = node.get("_target_")
        accepted = accepted_keys(target) if isinstance(target, str) else None
        if accepted is None:
            continue
        given = [str(k) for k in node.keys() if not str(k).startswith("_")]
        missing = [k for k in required_settings(str(target)) if k not in given]
        if missing and not node.get("_partial_", False):
            raise missing_setting(f"{path}.{missing[0]}", str(target), cfg)
        for key in given:
            if key not in accepted:
                # what the user may set: the node's own keys and the optional ones (a required
                # argument missing from the node, such as a mode's `cfg`, is supplied by the code)
                settable = [k for k, optional in accepted.items() if optional or k in given]
                raise unknown_setting(f"{path}.{key}", str(target), sorted(settable))


def unknown_setting(full_key: str, target: str, accepted: list[str]) -> UserError:
    """The error for a key its component does not take: the closest valid one, and every valid one."""
    section, _, key = full_key.rpartition(".")
    close = difflib.get_close_matches(key, accepted, n=1)
    lead = f"did you mean {section}.{close[0]}? " if close else ""
    name = target.rpartition(".")[2]
    why = _WHY.get(full_key.split(".")[0])
    return UserError(f"{full_key} is not a setting: {name} takes no {key!r}",
                     f"{lead}{section} settings: {', '.join(accepted) or 'none'}"
                     + (f"; {why}" if why else ""))


def missing_setting(full_key: str, target: str, cfg: DictConfig) -> UserError:
    """The error for a setting a component needs and its node lacks (deleted with ~, or a node
    added with + that names only its `_target_`): components keep no defaults of their own."""
    name, key = target.rpartition(".")[2], full_key.rpartition(".")[2]
    shipped = chosen_default(cfg, full_key)
    bound = bounds_of(get_object(target)).get(key)
    value = shipped if shipped is not None else bound.example(None) if bound is not None else "VALUE"
    shown = str(value).lower() if isinstance(value, bool) else value
    return UserError(f"{full_key} is not set: {name} takes no default of its own",
                     f"add +{full_key}={shown}" + (" (the shipped default)" if shipped is not None else ""))


@functools.cache
def required_settings(target: str) -> tuple[str, ...]:
    """The keyword-only arguments without a default that `target` takes: the settings its node
    must give (positional ones, such as the explainer's feature names, come from the code)."""
    try:
        signature = inspect.signature(get_object(target))
    except Exception:  # not importable or not introspectable: instantiation reports it
        return ()
    return tuple(name for name, p in signature.parameters.items()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty)


def can_take(target: object, key: str) -> bool:
    """True when the component `target` names accepts `key` (or cannot be checked)."""
    accepted = accepted_keys(target) if isinstance(target, str) else None
    return accepted is None or key in accepted


@functools.cache
def accepted_keys(target: str) -> dict[str, bool] | None:
    """{keyword `target` takes: has a default}; None when it takes any (or does not import)."""
    try:
        obj = get_object(target)
    except Exception:  # Hydra wraps import failures; instantiation reports them properly later
        return None
    params: Any = getattr(obj, "params", None)
    if isinstance(obj, type) and hasattr(params, "_getkeys"):  # a backtrader strategy
        return {str(name): True for name in params._getkeys() if name not in ENGINE_PARAMS}
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    kinds = {p.kind for p in signature.parameters.values()}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return None
    return {name: p.default is not inspect.Parameter.empty for name, p in signature.parameters.items()
            if p.kind is not inspect.Parameter.VAR_POSITIONAL}


def _targets(node: DictConfig, prefix: str = "") -> Iterator[tuple[str, DictConfig]]:
    """(dotted path, node) for every node holding a `_target_`, Hydra's own settings aside."""
    if prefix and "_target_" in node:
        yield prefix, node
    for key in node.keys():
        path = f"{prefix}.{key!s}" if prefix else str(key)
        if path == "hydra":
            continue
        child: Any = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            yield from _targets(child, path)


def check_search_space(cfg: DictConfig) -> None:
    """Every key a sweep's search space (hydra.sweeper.params) sets is a setting of the chosen
    components; otherwise its trials would each fail, one by one, on a key they lack."""
    space = OmegaConf.select(cfg, "hydra.sweeper.params", default=None)
    for key in (str(k) for k in (space or {}).keys()):
        section, _, leaf = key.lstrip("+~").rpartition(".")
        node = OmegaConf.select(cfg, section, default=None) if section else None
        if key[0] in "+~" or not isinstance(node, DictConfig) or leaf in node:
            continue
        top = section.split(".")[0]
        choice = OmegaConf.select(cfg, f"hydra.runtime.choices.{top}", default=None)
        target = node.get("_target_")
        chosen = f"{top}={choice}" if choice else top
        if isinstance(target, str):
            chosen += f": {target.rpartition('.')[2]}"
        known = sorted(str(k) for k in node.keys() if not str(k).startswith("_"))
        raise UserError(f"the search space (hydra.sweeper.params) names {key}, a setting the chosen "
                        f"{top} ({chosen}) lacks",
                        f"{section} settings: {', '.join(known) or 'none'}; remove {key} from "
                        f"hydra.sweeper.params (conf/hparams_search/) or choose a {top} that has it")
