"""The documentation says what the code does: every option named, defaults as configured, errors verbatim.

Stale documentation was found by users (a configuration table missing whole groups, an error example
listing four strategies where the program lists six, one default given two values); these tests read
README.md and docs/ and compare them with conf/ and with the program's own output.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_cli

CONF = ROOT / "conf"
NOT_OPTIONS = {"local", "hydra", "experiment", "debug"}  # presets and machine files, not swappable parts


def _docs() -> dict[Path, str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return {page: page.read_text() for page in pages if page.is_file()}


def _table_row(group: str) -> str:
    for text in _docs().values():
        for line in text.splitlines():
            if line.startswith(f"| `{group}` |"):
                return line
    raise AssertionError(f"no row for the config group `{group}` in the configuration reference")


def _groups() -> dict[str, list[str]]:
    groups = {d.name: sorted(p.stem for p in d.glob("*.yaml"))
              for d in CONF.iterdir() if d.is_dir() and d.name not in NOT_OPTIONS}
    groups["hydra/launcher"] = sorted(p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml"))
    return groups


@pytest.mark.parametrize("group", sorted(_groups()))
def test_every_option_of_every_config_group_is_in_the_reference(group: str) -> None:
    row = _table_row(group)
    missing = [name for name in _groups()[group] if f"`{name}`" not in row]
    assert not missing, f"`{group}` options missing from the configuration reference: {missing}"


def _default_options() -> dict[str, str]:
    config = yaml.safe_load((CONF / "config.yaml").read_text())
    chosen: dict[str, str] = {}
    for entry in config["defaults"]:
        if isinstance(entry, dict):
            for key, value in entry.items():
                if isinstance(value, str) and not key.startswith("optional"):
                    chosen[key] = value
    return chosen


def _default(group: str, key: str) -> object:
    option = _default_options().get(group)
    if option is None or not (CONF / group / f"{option}.yaml").is_file():
        return None
    values = yaml.safe_load((CONF / group / f"{option}.yaml").read_text()) or {}
    return values.get(key) if isinstance(values, dict) else None


# "`universe.warm_samples` (4096)": a setting named with its default in parentheses.
DEFAULT_MENTION = re.compile(r"`(\w+)\.(\w+)` \((-?\d[\d.,]*)\)")


def test_defaults_named_in_the_docs_are_the_configured_ones() -> None:
    checked, wrong = 0, []
    for page, text in _docs().items():
        for group, key, number in DEFAULT_MENTION.findall(text):
            value = _default(group, key)
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            checked += 1
            if float(number.replace(",", "")) != float(value):
                wrong.append(f"{page.name}: `{group}.{key}` ({number}) but conf says {value}")
    assert checked > 0, "no '`group.key` (default)' mention found: the pattern no longer matches the docs"
    assert not wrong, "\n".join(wrong)


# A console example: "$ python run.py ARGS" followed by the lines the program prints.
EXAMPLE = re.compile(r"^\s*\$ python run\.py (?P<args>.*)\n(?P<out>(?:\s*(?:error|hint): .*\n)+)", re.M)


def _error_examples() -> list[tuple[str, list[str]]]:
    found = []
    for text in _docs().values():
        for match in EXAMPLE.finditer(text):
            lines = [line.strip() for line in match["out"].strip().splitlines()]
            found.append((match["args"].strip(), lines))
    return found


def test_the_error_examples_are_what_the_program_prints(tmp_path: Path) -> None:
    examples = _error_examples()
    assert examples, "no '$ python run.py ...' error example found in the docs"
    for args, expected in examples:
        done = run_cli(*args.split(), f"paths.results_dir={tmp_path}", cwd=tmp_path)
        printed = [line.strip() for line in done.stderr.strip().splitlines()]
        assert done.returncode == 2, (args, done.stderr)
        assert printed == expected, f"python run.py {args}: the docs say {expected}, it prints {printed}"
