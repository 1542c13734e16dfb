"""Benchmark: a rerun, and a rerun with another strategy, against the first run, side by side.

    python tests/benchmarks/rerun.py --data ../shared/data/yahoo --ticker GOOG --start 2012-01-01
    python tests/benchmarks/rerun.py --quick --rounds 1      # shorter data, to try it

For this checkout and (unless `--old ""`) an older commit in a temporary git worktree, each round
runs three commands into one empty results folder: the first run (empty caches: it trains the
walk-forward forecaster, backtests, scores the forecasts, draws the plots and the QuantStats
tearsheet), the same command again (forecasts, scores, plots and tearsheet come from the caches;
the backtest and report.html are made again; every artifact is written) and the same data with
another strategy (`--other`, default sma_cross: new returns, so a new tearsheet; what does not
depend on the strategy comes from the caches). Commits alternate by round. Goals: rerun / first
and other-strategy rerun / first at most 0.25. The last line printed is JSON: each commit's median
seconds and ratios over the rounds, and whether the rerun's artifacts equal the first run's.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_run import (  # noqa: E402  (the benchmark scripts share their runner)
    QUICK_START,
    ROOT,
    compile_tree,
    old_worktree,
    one_run,
    parser,
    remove_worktree,
)

ARTIFACTS = ("report.html", "tearsheet.html", "metrics.json", "returns.csv", "predictions.csv",
             "trades.csv", "forecast.png", "forecast_skill.png", "forecast_folds.csv",
             "run_info.json")
SAME = ("tearsheet.html", "forecast.png", "predictions.csv", "returns.csv")


def three_runs(code: Path, common: list[str], other: str, work: Path) -> dict[str, Any]:
    """First run, rerun, other-strategy rerun of CODE sharing one results folder (caches, ledger)."""
    results = work / "results"
    first = one_run(code, common, work / "first", results)
    rerun = one_run(code, common, work / "rerun", results)
    moved = one_run(code, [*common, f"strategy={other}"], work / "other", results)
    missing = [name for name in ARTIFACTS if not (work / "rerun" / "run" / name).is_file()]
    if missing:
        sys.exit(f"the rerun in {code} lacks {', '.join(missing)}")
    same = all((work / "first" / "run" / name).read_bytes() == (work / "rerun" / "run" / name).read_bytes()
               for name in SAME)
    return {"first_s": first["wall_s"], "rerun_s": rerun["wall_s"], "other_s": moved["wall_s"],
            "first_cpu_s": first["cpu_s"], "other_cpu_s": moved["cpu_s"],
            "other_stages_s": moved["stages_s"], "other_outside_stages_s": moved["outside_stages_s"],
            "artifacts_identical": same}


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of the seconds and of each round's ratios."""
    median = statistics.median
    return {"first_s": round(median(r["first_s"] for r in rounds), 1),
            "rerun_s": round(median(r["rerun_s"] for r in rounds), 1),
            "other_strategy_s": round(median(r["other_s"] for r in rounds), 1),
            "ratio": round(median(r["rerun_s"] / r["first_s"] for r in rounds), 3),
            "other_strategy_ratio": round(median(r["other_s"] / r["first_s"] for r in rounds), 3),
            "other_strategy_cpu_s": round(median(r["other_cpu_s"] for r in rounds), 1),
            "other_outside_stages_s": round(median(r["other_outside_stages_s"] for r in rounds), 1),
            "artifacts_identical": all(r["artifacts_identical"] for r in rounds)}


def main() -> None:
    parse = parser()
    parse.add_argument("--other", default="sma_cross", help="the strategy of the other rerun")
    parse.set_defaults(ticker="GOOG", start="2012-01-01")
    args = parse.parse_args()
    start = QUICK_START if args.quick else args.start
    common = ["data=csv", f"data.path={Path(args.data).resolve()}", f"data.start={start}",
              f"ticker={args.ticker}", *args.overrides]
    found: dict[str, list[dict[str, Any]]] = {"new": []}
    with tempfile.TemporaryDirectory(prefix="rerun-bench-") as tmp:
        work = Path(tmp)
        commits = [("new", ROOT)]
        if args.old:
            commits.insert(0, ("old", old_worktree(args.old, work / "old-code")))
            found["old"] = []
        try:
            for _, code in commits:
                compile_tree(code)
            for number in range(1, args.rounds + 1):
                for label, code in commits:
                    found[label].append(three_runs(code, common, args.other, work / f"{label}-{number}"))
                    row = found[label][-1]
                    print(f"round {number} {label}: first {row['first_s']:.1f} s, rerun "
                          f"{row['rerun_s']:.1f} s, {args.other} {row['other_s']:.1f} s (CPU "
                          f"{row['other_cpu_s']:.1f} s; stages "
                          f"{row['other_stages_s']}, outside them {row['other_outside_stages_s']:.1f} s)",
                          flush=True)
        finally:
            if args.old:
                remove_worktree(work / "old-code")
    result = {label: summary(rounds) for label, rounds in found.items()}
    new, old = result["new"], result.get("old")
    print(json.dumps({
        "ratio": new["ratio"], "other_strategy_ratio": new["other_strategy_ratio"], "goal": "<= 0.25",
        **({"other_strategy_new_to_old": round(new["other_strategy_s"] / old["other_strategy_s"], 3),
            "other_strategy_cpu_new_to_old": round(
                new["other_strategy_cpu_s"] / old["other_strategy_cpu_s"], 3)}
           if old else {}),
        **result, "other_strategy": args.other, "old_commit": args.old or None, "rounds": args.rounds,
        "cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2),
        "data": f"{args.ticker} from {start}",
    }))


if __name__ == "__main__":
    main()
