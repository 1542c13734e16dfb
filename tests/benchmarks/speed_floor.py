"""Benchmark: the least time any default run can take on this machine, beside an older commit's run.

    python tests/benchmarks/default_run.py ...     # what the run takes
    python tests/benchmarks/speed_floor.py --old 0c554d1 --rounds 2

Issue 21 asks the default run (MSFT 2010-2020) for at most 0.4x of commit 0c554d1's time. Some of
a run's work cannot overlap anything and cannot be skipped without changing its results:
- start-up: the interpreter, the project's imports and Hydra composing the config
  (`run.py --cfg job`, which stops there);
- importing Keras and TensorFlow, before the first network trains;
- the training steps themselves: every `train_on_batch` the shipped walk-forward makes
  (the first fold's epochs, then each warm fold's capped sample), timed inside one walk-forward
  run, the one-off tracing of the step included;
- the QuantStats tearsheet, which needs the strategy's returns, so nothing comes after the trades
  but it (QuantStats' import is left out: a worker imports it during training).
Their sum is the floor: a run with every other step (predictions, attributions, baselines, risk,
figures, the report) perfectly hidden on the second core would still take it. The last line
printed is JSON: each part's median seconds over the rounds, the floor, the old commit's wall time
(median over its runs) and floor / old, the least ratio the goal could be met with.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.default_run import old_checkout, one_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ENV = {**{k: v for k, v in os.environ.items() if k != "LSTM_RESULTS_DIR"}, "TF_CPP_MIN_LOG_LEVEL": "2",
       "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}

# Run in a fresh interpreter: the walk-forward of the shipped config, every train_on_batch timed.
TRAINING = r"""
import json, sys, time
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
import backtests.cli  # noqa: F401  (the resolvers conf/ uses)
from forecasting.tf_import import import_keras
from forecasting.windows import make_windows
from tests.builders import source
path, start, conf = sys.argv[1], sys.argv[2], sys.argv[3]
with initialize_config_dir(config_dir=conf, version_base="1.3"):
    cfg = compose("config")
market = source("csv", ticker="MSFT", path=path, start=start, end=None).load()
windows = make_windows(instantiate(cfg.features)(market.frame), market.frame["Close"],
                       int(cfg.forecaster.window))
keras = import_keras()
spent = {"steps": 0, "seconds": 0.0, "first": None}
plain = keras.Model.train_on_batch
def timed(self, *args, **kwargs):
    began = time.perf_counter()
    try:
        return plain(self, *args, **kwargs)
    finally:
        took = time.perf_counter() - began
        spent["steps"] += 1
        spent["seconds"] += took
        spent["first"] = took if spent["first"] is None else spent["first"]
keras.Model.train_on_batch = timed
instantiate(cfg.walkforward).run(instantiate(cfg.forecaster), windows, seed=42, progress=False)
print(json.dumps(spent))
"""

# Run in a fresh interpreter: the tearsheet of a strategy on the data's own returns.
TEARSHEET = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from backtests.outputs.tearsheet import quantstats, write_tearsheet
from tests.builders import source
path, start, out = sys.argv[1], sys.argv[2], sys.argv[3]
close = source("csv", ticker="MSFT", path=path, start=start, end=None).load().frame["Close"]
held = close.pct_change().fillna(0.0).iloc[756:]
strategy = held * (np.random.default_rng(0).random(len(held)) < 0.6)
quantstats()
began = time.perf_counter()
write_tearsheet(Path(out), strategy, held, "floor")
print(json.dumps({"seconds": time.perf_counter() - began}))
"""


def fresh(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def wall(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, check=True)
    return time.perf_counter() - began


def main() -> None:
    parse = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parse.add_argument("--old", default="0c554d1", help="the commit whose default run is the yardstick")
    parse.add_argument("--rounds", type=int, default=2)
    parse.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "yahoo"))
    parse.add_argument("--start", default="2010-01-01")
    args = parse.parse_args()
    csv = str(Path(args.data).resolve() / "MSFT.csv")
    parts: dict[str, list[float]] = {"start-up": [], "keras import": [], "training steps": [],
                                      "tearsheet": []}
    old_runs: list[float] = []
    bare = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="speed-floor-") as tmp:
        work = Path(tmp)
        with old_checkout(args.old, work / "old-code") as old_code:
            for number in range(args.rounds):
                parts["start-up"].append(wall([sys.executable, "run.py", "--cfg", "job"]))
                parts["keras import"].append(
                    wall([sys.executable, "-c", "from forecasting.tf_import import import_keras; "
                          "import_keras()"]) - wall(bare))
                steps = fresh(TRAINING, csv, args.start, str(ROOT / "conf"))
                parts["training steps"].append(steps["seconds"])
                parts["tearsheet"].append(fresh(TEARSHEET, csv, args.start, str(work / "t.html"))["seconds"])
                old = one_run(old_code, ["data=csv", f"data.path={Path(args.data).resolve()}",
                                         f"data.start={args.start}", "ticker=MSFT"], work / f"old-{number}")
                old_runs.append(old["wall_s"])
                print(f"round {number + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in parts.items())
                      + f"; old run {old_runs[-1]:.1f} s", flush=True)
    medians = {name: round(statistics.median(values), 2) for name, values in parts.items()}
    floor = sum(medians.values())
    old_s = statistics.median(old_runs)
    print(json.dumps({"parts_s": medians, "floor_s": round(floor, 2), "old_s": round(old_s, 1),
                      "floor_ratio": round(floor / old_s, 3), "goal": "<= 0.4", "old": args.old,
                      "rounds": args.rounds, "cores": os.cpu_count(),
                      "load_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
