"""The code's shape: data flows one way, the three packages stay apart, modules stay readable."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# backtests' layers, lowest first: a module may import from its own layer or a lower one only.
# The sweeps, the ledger and the tracker are siblings (the circle test below keeps them from
# importing each other both ways); the stages of a universe run and its audit sit above the ledger
# they record in, and the modes above the stages they chain.
LAYERS = {"errors": 0, "atomic": 0, "runcontext": 0, "data": 1, "settings": 1, "pipeline": 2,
          "outputs": 3, "sweeps": 4, "ledger": 4, "journal": 4, "tracking": 4, "stages": 5, "modes": 6,
          "cli": 7, "finish": 7}
FORBIDDEN = {"forecasting": ("backtrader", "backtests", "strategies"),
             "strategies": ("tensorflow", "keras", "forecasting", "backtests")}
PACKAGES = ("backtests", "forecasting", "strategies")


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path, root: Path = ROOT) -> list[str]:
    """Every name `path` imports, at any depth (inside functions too), relative ones made absolute."""
    package = list(path.relative_to(root).parts[:-1])  # what a relative import starts from
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names]
    return found


def _module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `packages` under `root`."""
    files = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """module -> the project modules it imports: the module a name lives in, and its packages
    (importing `a.b.c` runs `a/b/__init__.py` too), except the importer's own packages."""
    files = _module_files(root, packages)

    def owner(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        own = {module.rsplit(".", n)[0] for n in range(module.count(".") + 1)}
        targets = {found for name in _imports(path, root) if (found := owner(name))}
        graph[module] = {parent for target in targets
                         for parent in (target.rsplit(".", n)[0] for n in range(target.count(".") + 1))
                         if parent in files and parent not in own}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One closed path (first module repeated last) per group of modules that import each other."""
    reach = {module: _reachable(graph, module) for module in graph}
    found: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(graph):
        if start in seen or start not in reach[start]:
            continue
        group = {module for module in reach[start] if start in reach[module]}
        seen |= group
        found.append(_path_back(graph, start, group))
    return found


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules `start` imports directly or through others (itself only if on a circle)."""
    reached, todo = set(), list(graph.get(start, ()))
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += graph.get(module, ())
    return reached


def _path_back(graph: dict[str, set[str]], start: str, group: set[str]) -> list[str]:
    """The shortest import path from `start` back to itself, through `group` only."""
    came_from: dict[str, str] = {}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for target in sorted(graph[module] & group):
            if target == start:
                path = [module]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = module
                queue.append(target)
    raise AssertionError(f"{start} is not on a circle")


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


def test_no_module_grows_into_several():
    """A module's size follows its concept; one past 500 lines has usually grown a second one.
    (Not a target to split to: a concept that needs the lines keeps them.)"""
    long = {str(p.relative_to(ROOT)): n for package in PACKAGES for p in _modules(package)
            if (n := len(p.read_text().splitlines())) > 500}
    assert not long


def test_every_backtests_folder_is_a_known_layer():
    folders = {p.name for p in (ROOT / "backtests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    modules = {p.stem for p in (ROOT / "backtests").glob("*.py") if p.stem != "__init__"}
    assert folders | modules <= set(LAYERS)


def test_no_package_holds_more_than_a_score_of_modules():
    """Past twenty, a package is grouped into subpackages named after what they hold."""
    crowded = {}
    for package in PACKAGES:
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*") if p.is_dir())]:
            count = len([m for m in folder.glob("*.py") if m.name != "__init__.py"])
            if count > 20:
                crowded[str(folder.relative_to(ROOT))] = count
    assert not crowded


def test_no_import_circles_even_through_imports_inside_functions():
    found = circles(import_graph(ROOT, PACKAGES))
    assert not found, "import circles: " + "; ".join(" -> ".join(path) for path in found)


def test_the_circle_check_sees_a_circle_hidden_in_a_function_and_a_relative_import(tmp_path):
    files = {"pkg/__init__.py": "",
             "pkg/a.py": "from pkg.sub import b\n",
             "pkg/sub/__init__.py": '"""A package."""\n',
             "pkg/sub/b.py": "def late():\n    from ..c import VALUE\n    return VALUE\n",
             "pkg/c.py": "import json\n\n\ndef run():\n    from . import a\n\nVALUE = 1\n",
             "pkg/d.py": "from pkg.a import b\nfrom pkg import c\n"}  # imports the circle, not on it
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.sub.b"] == {"pkg.c"} and graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}
    assert circles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    (tmp_path / "pkg/c.py").write_text("VALUE = 1\n")  # the function-level import gone
    assert circles(import_graph(tmp_path, ("pkg",))) == []
