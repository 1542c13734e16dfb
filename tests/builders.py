"""Components built from the conf/ option that holds their defaults, with a test's own changes.

The classes take their settings as required keyword arguments (backtests/settings/defaults.py), so
a test names only what it means to change: `build("walkforward/default", initial_train=100)`.
"""
from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import OmegaConf

from backtests.settings.defaults import option, shipped


def settings(name: str, **changes: Any) -> dict[str, Any]:
    """The settings of conf/<name>.yaml (e.g. "forecaster/lstm") with `changes`, without `_target_`.

    An interpolated default (`${seed}`, `${paths.cache_dir}`) depends on the run: the test passes it.
    """
    group, _, choice = name.rpartition("/")
    values = shipped(group, choice, **changes)
    unset = sorted(k for k, v in values.items() if isinstance(v, str) and "${" in v)
    if unset:
        raise TypeError(f"{name}: {', '.join(unset)} interpolate run settings; pass them")
    return values


def build(name: str, *args: Any, **changes: Any) -> Any:
    """The component conf/<name>.yaml builds, as Hydra builds it, with `changes` (any objects)."""
    group, _, choice = name.rpartition("/")
    node = {k: v for k, v in option(group, choice).items() if k not in changes}
    settings(name, **changes)  # refuses a missing run setting with a clear message
    node.setdefault("_convert_", "all")  # plain lists and dicts, as tests expect
    # partial, then called: the changes reach the class as they are (never turned into configs)
    return instantiate(OmegaConf.create({**node, "_partial_": True}))(*args, **changes)


def quality(data: str = "csv", **changes: Any) -> Any:
    """The quality policy conf/data/<data>.yaml ships (the shared one with that source's changes),
    with no calendar cache unless `cache_dir` is given: tests write nowhere else."""
    shipped_policy = option("data", data)["quality"]
    node = {**shipped_policy, "cache_dir": None, **changes}
    return instantiate(OmegaConf.create(node))


def source(name: str, **changes: Any) -> Any:
    """The price source conf/data/<name>.yaml builds, over all its data (start and end None unless
    given) with `quality()`: e.g. `source("csv", ticker="X", path=str(file))`."""
    changes.setdefault("quality", quality(name))
    return build(f"data/{name}", **{"start": None, "end": None, **changes})
