"""The optional extras: the default install (and `mlflow`) resolves SQLAlchemy 2, so `mlflow ui`
runs; the Optuna sweeper, which needs SQLAlchemy < 2, is an extra with an environment of its own."""
from __future__ import annotations

import re
import tomllib

from hydra.errors import MissingConfigException

from backtests.errors import OPTUNA_INSTALL, as_user_error
from tests.conftest import ROOT

APART = ("sqlalchemy", "alembic")  # the pins the two environments cannot share


def _pins(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return {m[1].lower(): m[2] for line in lines if (m := re.match(r"^([\w.-]+)==(\S+)$", line))}


def test_the_default_install_resolves_sqlalchemy_2_and_leaves_optuna_out():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    default = " ".join(project["dependencies"]).lower()
    assert "optuna" not in default and "sqlalchemy" not in default and "alembic" not in default
    assert any("hydra-optuna-sweeper" in d for d in project["optional-dependencies"]["optuna"])
    pins = _pins("constraints.txt")
    assert int(pins["sqlalchemy"].split(".")[0]) >= 2 and "optuna" not in pins


def test_the_optuna_environment_keeps_every_other_pin():
    main, optuna = _pins("constraints.txt"), _pins("constraints-optuna.txt")
    assert {k: v for k, v in optuna.items() if k in main and k not in APART} == {
        k: v for k, v in main.items() if k not in APART}
    assert optuna["sqlalchemy"].startswith("1.") and optuna["optuna"].startswith("2.10")


def test_hparams_search_without_the_sweeper_names_the_install_command():
    missing = MissingConfigException("Could not find 'hydra/sweeper/optuna'",
                                     missing_cfg_file="hydra/sweeper/optuna", options=["basic"])
    error = as_user_error(missing)
    assert error is not None and "hparams_search=optuna needs the Hydra Optuna sweeper" in error.message
    assert OPTUNA_INSTALL in (error.hint or "") and "constraints-optuna.txt" in OPTUNA_INSTALL
