"""Benchmark: a seeded synthetic universe of --tickers names end to end, each stage's time and memory.

    python tests/benchmarks/universe_scale.py --tickers 500            # the issue 23 goal
    python tests/benchmarks/universe_scale.py --tickers 50 forecaster=ridge

One `python run.py` in a child process over --years of synthetic daily bars per ticker (each ticker
its own seed) with the global model, `strategy=topk`, the risk forecasts (every method of
risk_model/default) and the sentiment index, in a fresh results folder (an empty forecast cache, so
everything is computed). While it runs, the summed RSS of the run and all its worker processes is
sampled from /proc every 0.2 s and charged to the stage its log says is running. Prints each stage's
seconds (run_info.json's timings) and peak RSS, the whole run's wall time and peak, and whether it
met the goal (under 20 minutes and 8 GB). Extra arguments are Hydra overrides. The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.memory import tree_mb  # noqa: E402

GOAL_SECONDS, GOAL_MB = 20 * 60, 8 * 1024
STAGE_LINE = re.compile(r"\]\[INFO\] ([a-z ]+) \.\.\.$")  # Timings.stage's "forecasts ..." line


class StageMemory:
    """Peak summed RSS (MB) of a process tree, overall and per stage named by `stage`."""

    def __init__(self, pid: int) -> None:
        self.pid, self.stage, self.peaks = pid, "start", {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            mb = tree_mb(self.pid)
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), mb)
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def tickers(count: int) -> list[str]:
    return [f"S{number:03d}" for number in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--years", type=float, default=5.0, help="synthetic history per ticker")
    parser.add_argument("--n-jobs", type=int, default=2, help="universe.n_jobs")
    parser.add_argument("--keep", action="store_true", help="keep the results folder")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. forecaster=lstm_dist")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="universe-scale-"))
    names = ",".join(tickers(args.tickers))
    command = [sys.executable, "run.py", "data=synthetic", f"++synthetic_bars={round(args.years * 252)}",
               f"universe.tickers=[{names}]", "universe.model=global", "strategy=topk",
               f"universe.n_jobs={args.n_jobs}", "risk_model.enabled=true", "sentiment.enabled=true",
               f"paths.results_dir={folder}", f"hydra.run.dir={folder / 'run'}", *args.overrides]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    memory = StageMemory(child.pid)
    assert child.stdout is not None
    for line in child.stdout:
        sys.stderr.write(line)
        found = STAGE_LINE.search(line.rstrip())
        if found:
            memory.stage = found.group(1)
    child.wait()
    wall = time.perf_counter() - started
    memory.stop()
    if child.returncode != 0:
        raise SystemExit(f"run.py failed with exit status {child.returncode}")
    info = json.loads((folder / "run" / "run_info.json").read_text())
    timings = info.get("timings_s", {})
    peak = max(memory.peaks.values())
    print(f"{'stage':<16}{'seconds':>10}{'peak RSS MB':>14}")
    for stage, seconds in timings.items():
        print(f"{stage:<16}{seconds:>10.1f}{memory.peaks.get(stage, 0.0):>14.0f}")
    print(f"{'whole run':<16}{wall:>10.1f}{peak:>14.0f}   goal: < {GOAL_SECONDS} s and < {GOAL_MB} MB: "
          f"{'met' if wall < GOAL_SECONDS and peak < GOAL_MB else 'NOT met'}")
    print(json.dumps({"tickers": args.tickers, "years": args.years, "wall_s": round(wall, 1),
                      "peak_rss_mb": round(peak), "timings_s": timings,
                      "peak_rss_mb_by_stage": {k: round(v) for k, v in memory.peaks.items()},
                      "overrides": args.overrides, "results": str(folder) if args.keep else None}))
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
