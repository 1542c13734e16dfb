"""Benchmark: an 8-variant strategy sweep on one ticker against a single run, in one go.

    python tests/benchmarks/sweep.py --data ../shared/data/yahoo --ticker MSFT --start 2015-01-01

Both start from an empty forecast cache on the same data, through `run.py` as a user types it. The
single run trains the walk-forward forecaster, backtests and writes its folder (tearsheet, plots,
report). The sweep (`-m`, joblib launcher on this machine's cores) varies strategy.entry x
strategy.exit over 8 runs that share data and forecast settings, so one job trains and the others
wait on the cache lock and reuse its forecasts. The goal is a ratio (sweep seconds / single
seconds) of at most 2. The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = ("0.0002", "0.0005", "0.001", "0.002")
EXITS = ("0.0", "-0.0005")


def timed_run(args: list[str], cwd: Path) -> float:
    """Seconds `python run.py ARGS` takes; fails loudly if the run does."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"run.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds


def data_parser(doc: str, ticker: str, start: str) -> argparse.ArgumentParser:
    """The options every benchmark here shares: which prices, and more Hydra overrides."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "yahoo"),
                        help="a folder of <TICKER>.csv files (or use --synthetic)")
    parser.add_argument("--ticker", default=ticker)
    parser.add_argument("--start", default=start)
    parser.add_argument("--synthetic", action="store_true", help="the synthetic market instead")
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides, e.g. forecaster=ridge")
    return parser


def data_overrides(args: argparse.Namespace) -> list[str]:
    return (["data=synthetic"] if args.synthetic else
            ["data=csv", f"data.path={Path(args.data).resolve()}", f"data.start={args.start}"])


def main() -> None:
    parser = data_parser(__doc__ or "", ticker="MSFT", start="2015-01-01")
    parser.add_argument("--launcher", default="joblib")
    args = parser.parse_args()
    data = data_overrides(args)
    common = [*data, f"ticker={args.ticker}", *args.overrides]
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        work = Path(tmp)
        single_s = timed_run([*common, f"hydra.run.dir={work / 'single'}",
                              f"paths.cache_dir={work / 'cache-single'}"], work)
        sweep_s = timed_run(["-m", *common, f"hydra/launcher={args.launcher}",
                             f"strategy.entry={','.join(ENTRIES)}", f"strategy.exit={','.join(EXITS)}",
                             f"hydra.sweep.dir={work / 'sweep'}",
                             f"paths.cache_dir={work / 'cache-sweep'}"], work)
        infos = [json.loads(p.read_text()) for p in sorted((work / "sweep").glob("*/run_info.json"))]
        complete = len(list((work / "sweep").glob("*/metrics.json")))
        trained = sum(not info["forecasts_from_cache"] for info in infos)
    print(json.dumps({
        "ratio": round(sweep_s / single_s, 2), "goal": "<= 2", "single_s": round(single_s, 1),
        "sweep_s": round(sweep_s, 1), "runs": len(ENTRIES) * len(EXITS), "complete": complete,
        "forecasts_trained": trained, "launcher": args.launcher, "cores": os.cpu_count(),
        "data": "synthetic" if args.synthetic else f"{args.ticker} from {args.start}",
    }))


if __name__ == "__main__":
    main()
