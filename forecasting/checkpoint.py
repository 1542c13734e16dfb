"""A fold model's carried state as bytes, and back into a live model: what lets a later run
resume the walk-forward where an earlier one stopped, bit for bit.

What the uninterrupted loop carries from one fold to the next lives in the model objects
themselves: a network's weights, its optimizer's moments and step count, its dropout layers' seed
generators, a GARCH fit's previous parameters, the distribution LSTM's last training date. So the
whole object is pickled, except its inputs: the windows, panel and forecast tables a model was built with
belong to the run that restores it, not to the snapshot. Per-fold seeds are not state (the loop
derives them from the fold number).

A network is stored as the values of its variables and its optimizer's, with its architecture as
Keras pickles it (done once per network and run: it is the slow part); the seed generators' states
are carried beside it, since Keras rebuilds them freshly seeded. A Keras model that is a view of
another (the distribution LSTM's point view shares its trunk's layers) is stored as a reference
and rebuilt on the restored network, so the two still share.
"""
from __future__ import annotations

import io
import pickle
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.universe.panel import Panel
from forecasting.windows import Windows

LIBRARIES = {"keras", "tensorflow", "numpy", "pandas", "scipy", "arch", "builtins", "statsmodels"}
INPUT = "input"  # the persistent id of an input (windows, a forecast table): never stored


def _is_keras_model(value: Any) -> bool:
    return type(value).__module__.startswith("keras") and hasattr(value, "layers")


def _is_input(value: Any) -> bool:
    return isinstance(value, (Windows, pd.DataFrame, Panel))


def _plain(value: Any) -> bool:
    """An object of ours (or a plugin's) whose attributes are walked, not a library's."""
    return hasattr(value, "__dict__") and type(value).__module__.split(".")[0] not in LIBRARIES


def _owners(root: Any) -> Iterator[Any]:
    """`root` and every plain object reachable through attributes (models wrap methods)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        owner = stack.pop()
        if id(owner) in seen or not _plain(owner):
            continue
        seen.add(id(owner))
        yield owner
        stack.extend(v for v in vars(owner).values() if _plain(v))


@dataclass(frozen=True)
class _View:
    """A Keras model made of another attribute's layers, up to the layer `output`."""

    source: str
    output: str


def _views(owner: Any) -> dict[str, _View]:
    models = {name: v for name, v in vars(owner).items() if _is_keras_model(v)}
    found: dict[str, _View] = {}
    for name, model in models.items():
        layers = {id(layer) for layer in model.layers}
        for other, source in models.items():
            if other != name and layers < {id(layer) for layer in source.layers}:
                found[name] = _View(other, model.layers[-1].name)
                break
    return found


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> str | None:
        return INPUT if _is_input(obj) else None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> None:
        if pid != INPUT:
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return None


@dataclass(frozen=True)
class _Network:
    """A Keras model's place in a frozen state: its architecture (pickled by Keras once per model
    object and run: the slow part) and the values of its variables and its optimizer's."""

    skeleton: bytes
    variables: list[np.ndarray]
    optimizer: list[np.ndarray]


_skeletons: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


def _skeleton(network: Any) -> bytes:
    """The network pickled by Keras (architecture, compile settings, built optimizer), once."""
    made = _skeletons.get(network)
    if made is None:
        made = _skeletons[network] = pickle.dumps(network, protocol=pickle.HIGHEST_PROTOCOL)
    return made


def _optimizer_variables(network: Any) -> list[Any]:
    optimizer = getattr(network, "optimizer", None)
    return list(optimizer.variables) if optimizer is not None else []


def freeze(model: Any) -> bytes:
    """The carried state of a fitted fold model (its inputs left out)."""
    swapped: list[tuple[Any, str, Any]] = []
    try:
        for owner in list(_owners(model)):
            for name, view in _views(owner).items():
                swapped.append((owner, name, getattr(owner, name)))
                setattr(owner, name, view)
        seeds = [generator.state.numpy() for generator in _seed_generators(model)]
        for owner in list(_owners(model)):
            for name, value in list(vars(owner).items()):
                if _is_keras_model(value):
                    swapped.append((owner, name, value))
                    setattr(owner, name, _Network(
                        _skeleton(value), [v.numpy() for v in value.variables],
                        [v.numpy() for v in _optimizer_variables(value)]))
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((model, seeds))
        return buffer.getvalue()
    finally:
        for owner, name, value in reversed(swapped):
            setattr(owner, name, value)


def thaw_into(live: Any, state: bytes) -> None:
    """Give `live` (a model built afresh by this run) the carried state `state` froze."""
    restored, seeds = _Unpickler(io.BytesIO(state)).load()
    networks = [(owner, name, value) for owner in _owners(restored)
                for name, value in vars(owner).items() if isinstance(value, _Network)]
    if networks:
        from forecasting.network import gaussian_nll, mean_variance_class
        from forecasting.tf_import import import_keras

        keras = import_keras()
        for owner, name, frozen in networks:
            with keras.saving.custom_object_scope({"gaussian_nll": gaussian_nll,
                                                   "MeanVarianceLoss": mean_variance_class()}):
                network = pickle.loads(frozen.skeleton)
            for variable, value in zip(network.variables, frozen.variables, strict=True):
                variable.assign(value)
            optimizer = getattr(network, "optimizer", None)
            if optimizer is not None and len(optimizer.variables) != len(frozen.optimizer):
                optimizer.build(network.trainable_variables)  # pickled before its first step
            for variable, value in zip(_optimizer_variables(network), frozen.optimizer, strict=True):
                variable.assign(value)
            setattr(owner, name, network)
        for generator, value in zip(_seed_generators(restored), seeds, strict=True):
            generator.state.assign(value)
        for owner in _owners(restored):
            for name, value in list(vars(owner).items()):
                if isinstance(value, _View):
                    source = getattr(owner, value.source)
                    setattr(owner, name, keras.Model(source.inputs,
                                                     source.get_layer(value.output).output))
    _carry(live, restored)


def _seed_generators(root: Any) -> list[Any]:
    """Every Keras seed generator in `root`'s networks, in a fixed order (views left out: they
    share their source's layers). Keras's own pickling rebuilds them freshly seeded, so their
    states (how far each dropout's random stream has run) are carried beside the models."""
    found: list[Any] = []
    for owner in _owners(root):
        for value in vars(owner).values():
            if not _is_keras_model(value):
                continue
            for layer in value._flatten_layers(include_self=False, recursive=True):
                found += [v for v in vars(layer).values()
                          if type(v).__name__ == "SeedGenerator" and hasattr(v, "state")]
    return found


def _frozen(value: Any) -> bool:
    """A frozen dataclass (a fitted scaler): replaced whole, its attributes cannot be set."""
    params = getattr(value, "__dataclass_params__", None)
    return bool(params is not None and params.frozen)


def _carry(live: Any, restored: Any) -> None:
    """Copy `restored`'s attributes onto `live`, keeping `live`'s inputs and its objects' identity."""
    for name, value in vars(restored).items():
        current = getattr(live, name, None)
        if _is_input(current):
            continue
        if _plain(current) and type(current) is type(value) and not _frozen(current):
            _carry(current, value)
        else:
            setattr(live, name, value)
