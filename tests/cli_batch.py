"""Many `python run.py ARGS` commands in one fresh process, one after another (tests/conftest.py).

A process per command pays Python's, pandas' and Hydra's imports every time; here run.py itself is
run as `__main__` for each command, with its own sys.argv (imports are paid once), and the report
says, after each one, whether TensorFlow or Keras had been imported by then: the process starts
without them, so a command that imports them is caught at once.

Usage: python -m tests.cli_batch CASES.json RESULTS.json  (CASES: a list of argument lists)
"""
from __future__ import annotations

import contextlib
import io
import json
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any


def _deep_learning_loaded() -> bool:
    return any(name.split(".")[0] in ("tensorflow", "keras") for name in sys.modules)


def run_one(script: Path, args: list[str]) -> dict[str, Any]:
    """`python run.py ARGS` in this process: its exit status, what it printed, the TensorFlow flag."""
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["run.py", *args]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except BaseException:  # what the interpreter would print before exiting with status 1
            err.write(traceback.format_exc())
            code = 1
    return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
            "tensorflow": _deep_learning_loaded()}


def _finish_here() -> None:
    """A finished command ends as the interpreter would end it, not by leaving the process
    (backtests/finish.py): the batch goes on to the next command."""
    sys.exit(0)


def main(cases_file: str, results_file: str) -> None:
    import backtests.finish

    backtests.finish.exit_done = _finish_here  # type: ignore[assignment]  (run.py imports it each time)
    script = Path(__file__).resolve().parents[1] / "run.py"
    cases = json.loads(Path(cases_file).read_text())
    results = [run_one(script, list(args)) for args in cases]
    Path(results_file).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:3])
