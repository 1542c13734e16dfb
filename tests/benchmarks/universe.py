"""Benchmark: one ticker, the global model on every ticker, and per-ticker forecasts, in one run.

    python tests/benchmarks/universe.py --data ../shared/data/yahoo

The shipped settings (monthly refits, LSTM(32), window 30) from --start to --end, with an empty
forecast cache so everything trains: (1) one ticker's walk-forward (--ticker, in this process), (2)
the global LSTM on all tickers' windows (one model per fold), (3) the per-ticker mode, each ticker's
own walk-forward on --n-jobs processes. Each stage's time and peak memory (this process and its
workers, sampled from /proc) are measured; the global model's training throughput is given in
samples/s and as a fraction of this machine's float32 matrix-multiply peak, measured here too. The
last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import open_dict  # noqa: E402

import backtests.cli  # noqa: E402,F401  (registers the resolvers conf/ uses)
from backtests.pipeline.forecasts import walk_forward_forecasts  # noqa: E402
from backtests.pipeline.universe import build_panel, global_model, per_ticker_forecasts  # noqa: E402
from backtests.stages.markets import load_markets  # noqa: E402
from forecasting.tf_import import import_keras  # noqa: E402
from forecasting.universe.models import PanelRidge  # noqa: E402
from forecasting.universe.walkforward import panel_folds, run_panel  # noqa: E402
from tests.benchmarks.memory import family, rss_kb  # noqa: E402
from tests.builders import settings  # noqa: E402

CONF = str(Path(__file__).resolve().parents[2] / "conf")


class PeakMemory:
    """The largest summed RSS of this process and its children while the block runs (MB)."""

    def __enter__(self) -> PeakMemory:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(rss_kb(p) for p in family(os.getpid())))
            self._stop.wait(0.2)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.mb = round(self.peak / 1024, 1)


def matmul_peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """float32 matrix-multiply rate of TensorFlow on this machine (all its threads)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    tf.linalg.matmul(a, a).numpy()
    started = time.perf_counter()
    for _ in range(repeats):
        tf.linalg.matmul(a, a).numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def lstm_flops_per_sample(window: int, features: int, units: int, embedding: int) -> float:
    """Forward plus backward (about 3x forward) multiply-adds of one LSTM layer and the head."""
    forward = window * 2 * 4 * units * (features + units) + 2 * (units + embedding)
    return 3.0 * forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="a folder of <TICKER>.csv files")
    parser.add_argument("--start", default="2010-01-01")
    parser.add_argument("--end", default=None)
    parser.add_argument("--ticker", default="MSFT", help="the single-ticker run's ticker")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. universe.warm_samples=0")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="universe-bench-")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=["data=csv", f"data.path={args.data}",
                                           f"data.start={args.start}", f"data.end={args.end or 'null'}",
                                           "universe=folder", f"universe.n_jobs={args.n_jobs}",
                                           f"ticker={args.ticker}", *args.overrides])
    with open_dict(cfg):
        cfg.paths.cache_dir = cache
    started = time.perf_counter()
    loaded = load_markets(cfg)
    universe, markets, left_out = loaded.universe, loaded.markets, loaded.left_out
    load_s = time.perf_counter() - started
    import_keras()  # the import is paid once, outside every timing
    peak = matmul_peak_gflops()

    with PeakMemory() as single_mem:
        started = time.perf_counter()
        walk_forward_forecasts(cfg, markets[args.ticker], use_cache=False)
        single_s = time.perf_counter() - started
    with PeakMemory() as global_mem:
        started = time.perf_counter()
        panel = build_panel(cfg, universe, markets)
        model = global_model(cfg, universe, len(panel.tickers))
        walkforward = instantiate(cfg.walkforward)
        run_panel(walkforward, model, panel, seed=int(cfg.seed), progress=False,
                  baselines={"ridge": PanelRidge(**settings("forecaster/ridge",
                                                             window=int(cfg.forecaster.window)),
                                                 target=universe.target)})
        global_s = time.perf_counter() - started
    with PeakMemory() as per_ticker_mem:
        started = time.perf_counter()
        per_ticker_forecasts(cfg, markets, args.n_jobs)
        per_ticker_s = time.perf_counter() - started

    flops = lstm_flops_per_sample(int(cfg.forecaster.window), panel.X.shape[-1],
                                  int(cfg.forecaster.units), universe.embedding)
    rate = model.trained_samples / global_s
    print(json.dumps({
        "single_s": round(single_s, 1), "global_s": round(global_s, 1),
        "per_ticker_s": round(per_ticker_s, 1),
        "ratio_global_to_single": round(global_s / single_s, 2),
        "ratio_per_ticker_to_single": round(per_ticker_s / single_s, 2),
        "peak_rss_mb": max(single_mem.mb, global_mem.mb, per_ticker_mem.mb),
        "peak_rss_mb_single": single_mem.mb, "peak_rss_mb_global": global_mem.mb,
        "peak_rss_mb_per_ticker": per_ticker_mem.mb,
        "global_samples_trained": model.trained_samples,
        "global_samples_per_s": round(rate), "global_gflops": round(rate * flops / 1e9, 2),
        "matmul_peak_gflops": round(peak, 1), "fraction_of_peak": round(rate * flops / 1e9 / peak, 3),
        "tickers": len(markets), "left_out": sorted(left_out), "panel_samples": len(panel),
        "folds": len(panel_folds(walkforward, panel)), "load_s": round(load_s, 1),
        "n_jobs": args.n_jobs, "warm_samples": universe.warm_samples,
        "batch_size": universe.batch_size, "data": args.data,
    }))


if __name__ == "__main__":
    main()
