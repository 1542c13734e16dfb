"""Where this process runs: a job of a sweep (`python run.py -m`) or a single run, and its folder.

Asked by the sweep callback, the ledger, the tracker and the CLI alike, so it sits below all of
them and imports nothing of the project: none of them has to import another to learn it.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf


def in_multirun(config: DictConfig | None = None) -> bool:
    """True inside a job of `python run.py -m ...` (a sweep), False in a single run or a test.

    `config` is a config holding the `hydra` node; without it, the running job's is used.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if config is None:
        if not HydraConfig.initialized():
            return False
        return getattr(HydraConfig.get(), "mode", None) == RunMode.MULTIRUN
    return OmegaConf.select(config, "hydra.mode", default=None) == RunMode.MULTIRUN


def sweep_folder() -> Path | None:
    """The sweep's root folder inside a job of `python run.py -m ...`, else None."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().sweep.dir) if in_multirun() else None


def sweep_name() -> str | None:
    """The sweep folder's name inside a job of `python run.py -m`, else None."""
    folder = sweep_folder()
    return None if folder is None else folder.name


def group_choice(group: str) -> str | None:
    """The option the running job chose for a config group (`strategy` -> "topk"), else None."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().runtime.choices.get(group)
