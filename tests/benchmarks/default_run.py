"""Benchmark: the README's default experiment, this checkout against an older commit, side by side.

    python tests/benchmarks/default_run.py --old 0c554d1 --rounds 3
    python tests/benchmarks/default_run.py --quick          # shorter data: under a minute, to try it

The old commit is checked out into a temporary git worktree (removed afterwards) and runs with its
own `run.py` from its own folder, in this same Python. Runs alternate (old, new, old, new, ...) so
a change in the machine's load touches both alike; each starts from an empty results folder and
cache (`paths.results_dir`, `hydra.run.dir` in a temporary folder). Each run's line gives its wall
seconds, its stages' seconds from run_info.json `timings_s` and the log (the stage names differ
between commits: both are shown), the seconds outside them (start-up: interpreter, imports, Hydra)
and the MSE of its forecasts (metrics.json's forecast block). The last line printed is JSON: the
median over rounds of each round's new/old wall ratio (goal: at most 0.4) and CPU-seconds ratio
(less disturbed by other work on a shared machine), the MSE ratio new/old
(goal: within 1%), each stage's median seconds, and which result files (predictions, returns,
trades, var, metrics) both commits wrote byte-identical: `--old HEAD` checks that uncommitted
speed changes leave every result as it was. This machine is shared: use --rounds and medians.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
QUICK_START = "2017-01-01"  # --quick: four years of bars instead of eleven
STAGE_LINE = re.compile(r"\[INFO\] ([a-z][a-z -]*): done in ([\d.]+) s")
# The results a speed change must leave byte-identical (compared between round 1's two runs).
RESULT_FILES = ("predictions.csv", "returns.csv", "trades.csv", "var.csv", "metrics.json")


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parse.add_argument("--old", default="0c554d1", help="the commit to compare with")
    parse.add_argument("--rounds", type=int, default=2, help="pairs of runs (old, new) to take medians over")
    parse.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "yahoo"),
                       help="a folder of <TICKER>.csv files")
    parse.add_argument("--ticker", default="MSFT")
    parse.add_argument("--start", default="2010-01-01")
    parse.add_argument("--quick", action="store_true",
                       help=f"data from {QUICK_START}: both commits in about a minute, for trying")
    parse.add_argument("overrides", nargs="*",
                       help="more Hydra overrides for both commits (they must exist in both)")
    return parse


def old_worktree(commit: str, folder: Path) -> Path:
    """A detached worktree of COMMIT in FOLDER, its modules compiled (as the checkout's already are)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(folder), commit],
                   check=True)
    return folder


def remove_worktree(folder: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False,
                   capture_output=True)
    subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False, capture_output=True)


def compile_tree(code: Path) -> None:
    """Byte-compile a checkout so neither side's first run pays for it."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-x", r"/(results|outputs|multirun)/",
                    str(code / "backtests"), str(code / "forecasting"), str(code / "strategies"),
                    str(code / "run.py")], check=False, capture_output=True)


@contextmanager
def old_checkout(commit: str, folder: Path) -> Iterator[Path]:
    """COMMIT's checkout in FOLDER beside this one, both byte-compiled; removed after."""
    code = old_worktree(commit, folder)
    try:
        compile_tree(code)
        compile_tree(ROOT)
        yield code
    finally:
        remove_worktree(code)


def one_run(code: Path, args: list[str], work: Path, results: Path | None = None) -> dict[str, Any]:
    """`python run.py ARGS` from CODE's folder into WORK/run, its caches and ledger in RESULTS
    (default WORK/results): wall seconds, stages, forecast MSE."""
    env = {key: value for key, value in os.environ.items() if key != "LSTM_RESULTS_DIR"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(code)})
    run_dir = work / "run"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(code / "run.py"), *args,
                           f"paths.results_dir={results or work / 'results'}", f"hydra.run.dir={run_dir}"],
                          cwd=code, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"run.py in {code} failed:\n{done.stderr[-3000:]}")
    info = json.loads((run_dir / "run_info.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    stages = {**info.get("timings_s", {}), **logged_after(run_dir / "run.log", info.get("timings_s", {}))}
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "stages_s": stages,
            "outside_stages_s": round(wall - sum(stages.values()), 2),
            "mse": forecast_mse(metrics.get("forecast", {}))}


def logged_after(log: Path, recorded: dict[str, float]) -> dict[str, float]:
    """Stages the log times that run_info.json cannot hold (the one that writes it: `record`)."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    found = {name: float(seconds) for name, seconds in STAGE_LINE.findall(text)}
    return {name: seconds for name, seconds in found.items() if name not in recorded}


def forecast_mse(block: dict[str, Any]) -> float | None:
    """The model's out-of-sample MSE from metrics.json's forecast block (both commits' layouts)."""
    for key in ("mse", "model_mse"):
        if isinstance(block.get(key), (int, float)):
            return float(block[key])
    model = block.get("model")
    if isinstance(model, dict) and isinstance(model.get("mse"), (int, float)):
        return float(model["mse"])
    return None


def show(label: str, number: int, run: dict[str, Any]) -> None:
    stages = ", ".join(f"{name} {seconds:.1f}" for name, seconds in run["stages_s"].items())
    print(f"round {number} {label}: wall {run['wall_s']:.1f} s, CPU {run['cpu_s']:.1f} s, "
          f"mse {run['mse']}; stages (s): {stages}; outside the timed stages (start-up: "
          f"interpreter, imports, Hydra) {run['outside_stages_s']:.1f}", flush=True)


def main() -> None:
    args = parser().parse_args()
    start = QUICK_START if args.quick else args.start
    common = ["data=csv", f"data.path={Path(args.data).resolve()}", f"data.start={start}",
              f"ticker={args.ticker}", *args.overrides]
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="default-run-bench-") as tmp:
        work = Path(tmp)
        with old_checkout(args.old, work / "old-code") as old_code:
            for number in range(1, args.rounds + 1):
                for label, code in (("old", old_code), ("new", ROOT)):
                    run = one_run(code, common, work / f"{label}-{number}")
                    runs[label].append(run)
                    show(label, number, run)
        identical = {name: same_file(work / "old-1" / "run" / name, work / "new-1" / "run" / name)
                     for name in RESULT_FILES}
    ratios = [new["wall_s"] / old["wall_s"] for old, new in zip(runs["old"], runs["new"])]
    old_mse, new_mse = runs["old"][0]["mse"], runs["new"][0]["mse"]
    print(json.dumps({
        "ratio": round(statistics.median(ratios), 3), "goal": "<= 0.4",
        "ratios": [round(r, 3) for r in ratios],
        "old_s": round(statistics.median(r["wall_s"] for r in runs["old"]), 1),
        "new_s": round(statistics.median(r["wall_s"] for r in runs["new"]), 1),
        "cpu_ratio": round(statistics.median(
            new["cpu_s"] / old["cpu_s"] for old, new in zip(runs["old"], runs["new"])), 3),
        "mse_ratio": round(new_mse / old_mse, 4) if old_mse and new_mse else None,
        "mse_goal": "within 1%", "old_mse": old_mse, "new_mse": new_mse,
        "identical_results": identical,
        "old_stages_s": median_stages(runs["old"]), "new_stages_s": median_stages(runs["new"]),
        "old": args.old, "rounds": args.rounds, "cores": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "data": f"{args.ticker} from {start}",
    }))


def same_file(a: Path, b: Path) -> bool | None:
    """Whether two runs wrote the same bytes (None: a run did not write the file)."""
    return a.read_bytes() == b.read_bytes() if a.is_file() and b.is_file() else None


def median_stages(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Each stage's median seconds over the rounds."""
    names = list(runs[0]["stages_s"])
    medians = {name: round(statistics.median(r["stages_s"].get(name, 0.0) for r in runs), 2)
               for name in names}
    return {**medians, "outside stages": round(statistics.median(r["outside_stages_s"] for r in runs), 2)}


if __name__ == "__main__":
    main()
