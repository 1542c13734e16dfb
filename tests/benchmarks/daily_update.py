"""Benchmark: the evening run. Appending one session, then a fold's worth, to a ticker's history.

    python tests/benchmarks/daily_update.py --data ../shared/data/yahoo --ticker MSFT --years 10
    python tests/benchmarks/daily_update.py --quick          # four years, to try it
    python tests/benchmarks/daily_update.py --universe global --steps one_session  # 30 tickers

Three runs of `python run.py` share one results folder (caches, fold memory): the first on the
history without its last `retrain_every + 1` sessions (everything trains, from scratch), then the
history with one more session (the last fold's saved models forecast it), then with a fold's worth
more (one new fold trains, warm-started from the saved state). Each line gives the forecast stages'
seconds (forecasts, distributions, risk forecasts: run_info.json `timings_s`) and the wall seconds
from process start to report written. The last line printed is JSON: each update's forecast stages
as a share of the from-scratch run's (goals: one session at most 0.02, a fold's worth at most 0.05)
and its wall seconds as a share, and whether the last update's result files equal those of one
run from scratch on the same history (`--check`, one more run from scratch).

`--universe global` (or `per_ticker`) runs every <TICKER>.csv in --data as one universe
(`universe=folder`, that `universe.model`), each file cut at the same dates; the universe's goal
is one new session at most 0.05 of its from-scratch run. `--steps one_session` leaves out the
fold's worth.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_run import ROOT, compile_tree, one_run  # noqa: E402  (the benchmarks share a runner)

FORECAST_STAGES = ("forecasts", "distributions", "risk forecasts")
RESULT_FILES = ("predictions.csv", "var.csv", "trades.csv", "metrics.json")


def forecast_seconds(run: dict) -> float:
    return round(sum(run["stages_s"].get(name, 0.0) for name in FORECAST_STAGES), 2)


def main() -> None:
    parse = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parse.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "yahoo"))
    parse.add_argument("--ticker", default="MSFT")
    parse.add_argument("--years", type=float, default=10.0)
    parse.add_argument("--fold", type=int, default=21, help="walkforward.retrain_every")
    parse.add_argument("--quick", action="store_true", help="four years instead of --years")
    parse.add_argument("--check", action="store_true",
                       help="one more run from scratch on the last history: are the files equal?")
    parse.add_argument("--universe", choices=("global", "per_ticker"), default=None,
                       help="every CSV in --data as one universe with this universe.model")
    parse.add_argument("--steps", choices=("both", "one_session"), default="both")
    parse.add_argument("overrides", nargs="*", help="more Hydra overrides for every run")
    args = parse.parse_args()
    names = (sorted(p.stem for p in Path(args.data).glob("*.csv")) if args.universe
             else [args.ticker])
    files = {name: pd.read_csv(Path(args.data) / f"{name}.csv", dtype=str) for name in names}
    sessions = int(252 * (4 if args.quick else args.years))
    calendar = files[args.ticker]["Date"].iloc[-sessions:].tolist()
    base = len(calendar) - args.fold - 1
    compile_tree(ROOT)
    with tempfile.TemporaryDirectory(prefix="daily-bench-") as tmp:
        work = Path(tmp)
        folder = work / "data"
        folder.mkdir()
        common = ["data=csv", f"data.path={folder}", f"data.start={calendar[0]}",
                  f"walkforward.retrain_every={args.fold}", *args.overrides]
        common += (["universe=folder", f"universe.model={args.universe}"]
                   if args.universe else [f"ticker={args.ticker}"])
        steps = [("scratch", base), ("one_session", base + 1)]
        if args.steps == "both":
            steps.append(("one_fold", base + 1 + args.fold))
        runs = {}
        for label, rows in steps:
            for name, frame in files.items():  # every file cut at the same dates
                dates = frame["Date"]
                frame[(dates >= calendar[0]) & (dates <= calendar[rows - 1])].to_csv(
                    folder / f"{name}.csv", index=False)
            runs[label] = one_run(ROOT, common, work / label, work / "results")
            print(f"{label}: {rows} sessions to {calendar[rows - 1]}, forecast stages "
                  f"{forecast_seconds(runs[label]):.2f} s, wall {runs[label]['wall_s']:.1f} s "
                  f"(stages {runs[label]['stages_s']})", flush=True)
        same = None
        if args.check:
            fresh = one_run(ROOT, common, work / "fresh", work / "fresh-results")
            last = work / steps[-1][0] / "run"
            same = {name: (last / name).read_bytes() == (work / "fresh" / "run" / name).read_bytes()
                    for name in RESULT_FILES if (last / name).is_file()}
            print(f"from scratch on the last history: forecast stages {forecast_seconds(fresh):.2f} s, "
                  f"wall {fresh['wall_s']:.1f} s", flush=True)
    scratch = forecast_seconds(runs["scratch"])
    shares = {f"{label}_share": round(forecast_seconds(run) / scratch, 4)
              for label, run in runs.items() if label != "scratch"}
    goals = ({"one_session_share": "<= 0.05 (of the run)"} if args.universe
             else {"one_session_share": "<= 0.02", "one_fold_share": "<= 0.05"})
    print(json.dumps({
        **shares, "goals": goals,
        "forecast_stages_s": {label: forecast_seconds(run) for label, run in runs.items()},
        "wall_s": {label: run["wall_s"] for label, run in runs.items()},
        "wall_share": {label: round(run["wall_s"] / runs["scratch"]["wall_s"], 3)
                       for label, run in runs.items()},
        "identical_to_scratch": same,
        "data": f"{', '.join(names) if args.universe else args.ticker}, {len(calendar)} sessions",
        "universe": args.universe,
        "overrides": args.overrides, "cores": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
