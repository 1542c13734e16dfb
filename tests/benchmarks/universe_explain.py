"""Benchmark: what attributions cost the global universe model, as a ratio measured back to back.

    python tests/benchmarks/universe_explain.py --tickers 30 --bars 2756 --rounds 1

A 30-ticker-like panel of seeded synthetic markets (data=synthetic, one seed per ticker) with the
shipped settings (LSTM(32), window 30, monthly refits, market input, embedding 4): the global
walk-forward without attributions, then with them (pooled with the `explain` group's settings, and
per ticker with fewer shuffles), in this process so TensorFlow's import is paid once, outside both.
Rounds alternate the order. Wall-clock and CPU seconds of each, the time spent explaining inside
the walk-forward (pooled and per ticker), and the overhead; the last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import open_dict  # noqa: E402

import backtests.cli  # noqa: E402,F401  (registers the resolvers conf/ uses)
from backtests.pipeline.universe import global_run  # noqa: E402
from backtests.stages.markets import load_markets  # noqa: E402
from forecasting.tf_import import import_keras  # noqa: E402

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def timed(cfg, universe, markets, explain: bool) -> dict:
    """Wall and CPU seconds of one global run, and the seconds spent explaining inside it."""
    wall, cpu = time.perf_counter(), time.process_time()
    run = global_run(cfg, universe, markets, progress=False, explain=explain)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "explain_s": round(run.explain_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickers", type=int, default=30)
    parser.add_argument("--bars", type=int, default=2756)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for both runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the explain split is logged
    names = ",".join(f"T{n:02d}" for n in range(args.tickers))
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=["data=synthetic", f"data.bars={args.bars}",
                                           f"universe.tickers=[{names}]", "universe.model=global",
                                           *args.overrides])
    with open_dict(cfg):
        cfg.paths.cache_dir = tempfile.mkdtemp(prefix="universe-explain-bench-")
    loaded = load_markets(cfg)
    universe, markets, _ = loaded.universe, loaded.markets, loaded.left_out
    import_keras()
    rounds = []
    for n in range(args.rounds):
        row = {}
        for explain in ((False, True) if n % 2 == 0 else (True, False)):
            row["on" if explain else "off"] = timed(cfg, universe, markets, explain)
            print(f"round {n + 1}, explain {'on' if explain else 'off'}: "
                  f"{row['on' if explain else 'off']}", flush=True)
        row["wall_overhead"] = row["on"]["wall_s"] / row["off"]["wall_s"] - 1
        row["cpu_overhead"] = row["on"]["cpu_s"] / row["off"]["cpu_s"] - 1
        rounds.append(row)
    print(json.dumps({
        "tickers": len(markets), "bars": args.bars, "rounds": rounds,
        "median_wall_overhead": round(statistics.median(r["wall_overhead"] for r in rounds), 3),
        "median_cpu_overhead": round(statistics.median(r["cpu_overhead"] for r in rounds), 3),
    }))


if __name__ == "__main__":
    main()
