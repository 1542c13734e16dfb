"""Benchmark: a rerun against the first run of the same experiment, in one go.

    python tests/benchmarks/rerun.py --data ../shared/data/yahoo --ticker GOOG --start 2012-01-01

The first run starts from empty caches: it trains the walk-forward forecaster, backtests, scores
the forecasts, draws the plots and the QuantStats tearsheet and writes its folder. The rerun is the
same command into a new folder: forecasts, scores, plots and tearsheet come from the caches (the
backtest and report.html are made again; every artifact is written). The goal is a ratio (rerun
seconds / first seconds) of at most 0.25. For reference, a rerun with another strategy is timed
too (new returns: a new tearsheet). The last line printed is JSON.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import data_overrides, data_parser, timed_run  # noqa: E402  (the benchmark scripts share their runner)

ARTIFACTS = ("report.html", "tearsheet.html", "metrics.json", "returns.csv", "predictions.csv",
             "trades.csv", "forecast.png", "forecast_skill.png", "forecast_folds.csv",
             "run_info.json")


def main() -> None:
    args = data_parser(__doc__ or "", ticker="GOOG", start="2012-01-01").parse_args()
    data = data_overrides(args)
    with tempfile.TemporaryDirectory(prefix="rerun-bench-") as tmp:
        work = Path(tmp)
        common = [*data, f"ticker={args.ticker}", f"paths.cache_dir={work / 'cache'}", *args.overrides]
        first_s = timed_run([*common, f"hydra.run.dir={work / 'first'}"], work)
        rerun_s = timed_run([*common, f"hydra.run.dir={work / 'rerun'}"], work)
        other_s = timed_run([*common, "strategy=sma_cross", f"hydra.run.dir={work / 'other'}"], work)
        missing = [name for name in ARTIFACTS if not (work / "rerun" / name).is_file()]
        same = all((work / "first" / name).read_bytes() == (work / "rerun" / name).read_bytes()
                   for name in ("tearsheet.html", "forecast.png", "predictions.csv", "returns.csv"))
    if missing:
        sys.exit(f"the rerun lacks {', '.join(missing)}")
    print(json.dumps({
        "ratio": round(rerun_s / first_s, 3), "goal": "<= 0.25", "first_s": round(first_s, 1),
        "rerun_s": round(rerun_s, 1), "rerun_other_strategy_s": round(other_s, 1),
        "artifacts_identical": same, "cores": os.cpu_count(),
        "data": "synthetic" if args.synthetic else f"{args.ticker} from {args.start}",
    }))


if __name__ == "__main__":
    main()
