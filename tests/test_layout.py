"""The code's shape: data flows one way, the three packages stay apart, modules stay readable."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# backtests' layers, lowest first: a module may import from its own layer or a lower one only.
LAYERS = {"errors": 0, "atomic": 0, "data": 1, "settings": 1, "pipeline": 2, "outputs": 3,
          "modes": 4, "sweeps": 4, "ledger": 4, "tracking": 4, "cli": 5}
FORBIDDEN = {"forecasting": ("backtrader", "backtests", "strategies"),
             "strategies": ("tensorflow", "keras", "forecasting", "backtests")}
PACKAGES = ("backtests", "forecasting", "strategies")


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _layer(parts: list[str]) -> int:
    """`backtests.X...`: X's layer; the package's own __init__ sits below everything."""
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


@pytest.mark.parametrize("path", _modules("backtests"), ids=lambda p: str(p.relative_to(ROOT)))
def test_backtests_imports_only_from_its_own_layer_or_below(path):
    own = _layer(list(path.relative_to(ROOT).with_suffix("").parts))
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "backtests" or len(parts) < 2 or parts[1] not in LAYERS:
            continue
        assert _layer(parts) <= own, f"{path.relative_to(ROOT)} imports {name}: an arrow backwards"


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_forecasting_and_strategies_stay_apart(package):
    for path in _modules(package):
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN[package], f"{path} imports {name}"


def test_no_module_is_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for package in PACKAGES for p in _modules(package)
            if (n := len(p.read_text().splitlines())) > 300}
    assert not long


def test_every_backtests_folder_is_a_known_layer():
    folders = {p.name for p in (ROOT / "backtests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    modules = {p.stem for p in (ROOT / "backtests").glob("*.py") if p.stem != "__init__"}
    assert folders | modules <= set(LAYERS)


def test_no_package_holds_more_than_a_dozen_modules():
    """Past a dozen, a package is grouped into subpackages named after what they hold."""
    crowded = {}
    for package in PACKAGES:
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*") if p.is_dir())]:
            count = len([m for m in folder.glob("*.py") if m.name != "__init__.py"])
            if count > 12:
                crowded[str(folder.relative_to(ROOT))] = count
    assert not crowded
