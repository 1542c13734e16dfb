"""Benchmark: what report.explain=true costs on a default run, as a ratio measured back to back.

    python tests/benchmarks/explain.py --data ../shared/data/yahoo --ticker MSFT --rounds 3

Each round runs the default experiment through `run.py` twice in a row, explain off then on, each
from an empty forecast cache (so both train the walk-forward), and records wall-clock and CPU
seconds (CPU time is less disturbed by other work on a shared machine). The explain-on run's log
also says how long the attributions took inside its walk-forward. The goal is an overhead of at
most 25% (the condition for report.explain defaulting to true). The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPLAIN_LINE = re.compile(r"explain: attributions for (\d+) folds in ([\d.]+) s")


def measured_run(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, log) of `python run.py ARGS`; fails loudly if the run does."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"run.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "yahoo"))
    parser.add_argument("--ticker", default="MSFT")
    parser.add_argument("--start", default="2010-01-01")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for both runs")
    args = parser.parse_args()

    common = ["data=csv", f"data.path={Path(args.data).resolve()}", f"data.start={args.start}",
              f"ticker={args.ticker}", *args.overrides]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="explain-bench-") as tmp:
        work = Path(tmp)
        for n in range(args.rounds):
            row = {}
            for flag in ("false", "true"):
                wall, cpu, log = measured_run(
                    [*common, f"report.explain={flag}", f"hydra.run.dir={work / f'{n}-{flag}'}",
                     f"paths.cache_dir={work / f'cache-{n}-{flag}'}"], work)
                row[flag] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
                found = EXPLAIN_LINE.search(log)
                if found:
                    row[flag]["folds"], row[flag]["attribution_s"] = int(found[1]), float(found[2])
            rounds.append(row)
            print(json.dumps(row), flush=True)
    ratio = lambda key: statistics.median(r["true"][key] / r["false"][key] for r in rounds)  # noqa: E731
    print(json.dumps({
        "overhead_wall": round(ratio("wall_s") - 1, 3), "overhead_cpu": round(ratio("cpu_s") - 1, 3),
        "attribution_share_of_off_run": round(statistics.median(
            r["true"].get("attribution_s", 0) / r["false"]["wall_s"] for r in rounds), 3),
        "goal": "<= 0.25", "rounds": rounds, "cores": os.cpu_count(),
        "data": f"{args.ticker} from {args.start}",
    }))


if __name__ == "__main__":
    main()
