"""A config group built, and its own list-valued settings checked, before any data is read.

Groups whose settings include lists (risk methods and levels, distribution baselines) say what is
wrong with them through a `problems()` method, which their bounds cannot express; the first problem
becomes the one `error:` line, with the group's own hint.
"""
from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from backtests.errors import UserError


def checked_group(cfg: DictConfig, group: str, hint: str) -> Any | None:
    """The group's object (None when the config has no such group), its problems() refused."""
    node = cfg.get(group)
    if node is None:
        return None
    built = instantiate(node, _convert_="all")
    problems = built.problems()
    if problems:
        raise UserError(f"{group}: {problems[0]}", hint)
    return built
