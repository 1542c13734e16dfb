"""The setting a sweep chose, as command-line overrides: one job's, or an Optuna sweep's best.

`mode=holdout mode.sweep=DIR mode.job=N` opens the locked test period for the job numbered N of
the sweep in DIR (its folder `N_...` keeps the overrides it ran with in `.hydra/overrides.yaml`);
without `mode.job`, an Optuna sweep's best (its `optimization_results.yaml`) on top of the sweep's
own command line (`multirun.yaml`, or a trial's overrides). The overrides given to mode=holdout
itself are applied last.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from backtests.errors import UserError

MODE_KEYS = ("mode",)  # the opening's own settings: never taken from the sweep


def chosen_overrides(sweep: str | Path, job: int | None) -> tuple[list[str], str]:
    """(the chosen setting's overrides, a label saying where it came from)."""
    folder = Path(sweep).expanduser()
    if not folder.is_dir():
        raise UserError(f"mode.sweep={sweep} is not a folder",
                        "give a sweep folder (results/multiruns/<time>), or leave mode.sweep=null "
                        "to open the holdout for the settings on the command line")
    if job is not None:
        found = sorted(p for p in folder.glob(f"{job}_*") if (p / ".hydra/overrides.yaml").is_file())
        if not found:
            raise UserError(f"the sweep {folder} has no job {job} (no folder {job}_*/.hydra)",
                            "use a job number from its summary.csv (the number before the first _)")
        return _read_list(found[0] / ".hydra/overrides.yaml"), f"{folder.name} job {found[0].name}"
    best_file = folder / "optimization_results.yaml"
    if not best_file.is_file():
        raise UserError(f"{folder} is not an Optuna sweep (no optimization_results.yaml) and no "
                        "mode.job was given", "add mode.job=N: the job number from its summary.csv")
    best = _read(best_file).get("best_params") or {}
    params = [f"{key}={_value(value)}" for key, value in best.items()]
    return merge(_sweep_command_line(folder), params), f"{folder.name} Optuna best"


def _sweep_command_line(folder: Path) -> list[str]:
    """The overrides every job of the sweep shares: multirun.yaml's, or (the Optuna sweeper writes
    none) a trial's own, whose searched values the best ones then replace."""
    base = _read(folder / "multirun.yaml")
    task = ((base.get("hydra") or {}).get("overrides") or {}).get("task")
    if task:
        return [str(o) for o in task]
    trials = sorted(folder.glob("*/.hydra/overrides.yaml"))
    return _read_list(trials[0]) if trials else []


def merge(*layers: list[str]) -> list[str]:
    """Overrides of several layers, a later layer's value of a key replacing an earlier one's;
    the mode's own keys (`mode=...`, `mode.x=...`) are dropped."""
    merged: dict[str, str] = {}
    for layer in layers:
        for override in layer:
            key = override.split("=", 1)[0].lstrip("+~")
            if key.split(".")[0] in MODE_KEYS:
                continue
            merged.pop(key, None)
            merged[key] = override
    return list(merged.values())


def _read(path: Path) -> dict:
    try:
        loaded = yaml.safe_load(path.read_text()) if path.is_file() else {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path} cannot be read ({exc})", "check the sweep folder") from exc
    return loaded if isinstance(loaded, dict) else {}


def _read_list(path: Path) -> list[str]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path} cannot be read ({exc})", "check the sweep folder") from exc
    return [str(o) for o in loaded or []]


def _value(value: object) -> str:
    """A parameter value as a command-line override writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return str(value)
