"""Benchmark: the framework's walk-forward against a naive retrain-from-scratch loop, in one run.

    python tests/benchmarks/walkforward.py --data ../shared/data/yahoo/MSFT.csv

Both use the shipped features, network and schedule (conf/). The naive loop does what most public
LSTM walk-forward code does: at every fold it builds a new model, trains `forecaster.epochs` epochs
with early stopping, and calls `model.predict`. Ours warm-starts each fold from the previous weights
for `forecaster.warm_epochs` and predicts with `predict_on_batch`. The last line printed is JSON:
speedup (naive seconds / ours), the out-of-sample MSE of both, folds, bars and seconds.

    python tests/benchmarks/walkforward.py --data ../shared/data/yahoo/MSFT.csv --old 0c554d1 --rounds 2

`--old COMMIT` times this loop side by side with an older commit's instead (issue 21: at most 0.3x
of `0c554d1`'s): each side's shipped forecaster and walk-forward on the same windows, in a fresh
interpreter from its own checkout (the old one in a temporary git worktree), alternating rounds;
the last line is JSON with the median wall and CPU ratios (new / old) and the MSE ratio.
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as run.py: no BLAS/TensorFlow oversubscription
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

import backtests.cli  # noqa: E402,F401  (registers the resolvers conf/ uses)
from forecasting.network import build_lstm  # noqa: E402
from forecasting.scaling import WindowScaler  # noqa: E402
from forecasting.tf_import import import_keras  # noqa: E402
from forecasting.windows import make_windows  # noqa: E402
from tests.builders import source  # noqa: E402

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def naive_walk_forward(windows, walkforward, settings: dict, seed: int) -> np.ndarray:
    """Rebuild and retrain from scratch at every fold; predict with model.predict."""
    keras = import_keras()

    forecasts = []
    for fold in walkforward.folds(len(windows)):
        train = windows[fold.train_start:fold.train_end].labelled
        test = windows[fold.test_start:fold.test_end]
        keras.utils.set_random_seed(seed + fold.number)
        scaler = WindowScaler.fit(train.X, train.y)
        X, y = scaler.transform_x(train.X), scaler.transform_y(train.y)
        n_val = int(len(y) * walkforward.val_fraction)
        model = build_lstm(settings["window"], X.shape[-1], settings["units"], settings["layers"],
                           settings["dropout"], settings["learning_rate"])
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings["patience"],
                                             restore_best_weights=True)
        model.fit(X[:-n_val], y[:-n_val], validation_data=(X[-n_val:], y[-n_val:]),
                  epochs=settings["epochs"], batch_size=settings["batch_size"], verbose=0,
                  callbacks=[stop])
        forecasts.append(scaler.inverse_y(model.predict(scaler.transform_x(test.X), verbose=0)))
    return np.concatenate(forecasts).reshape(-1)


# One side of `--old`: that checkout's shipped forecaster and walk-forward, timed (Keras imported first).
SIDE = r"""
import json, sys, time
import numpy as np
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
import backtests.cli  # noqa: F401  (the resolvers conf/ uses)
from forecasting.tf_import import import_keras
from forecasting.windows import make_windows
path, start, conf, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    from tests.builders import source
    market = source("csv", ticker="MSFT", path=path, start=start, end=None).load()
except ImportError:  # older commits: the source class itself
    from backtests.data.csv import CsvSource
    market = CsvSource("MSFT", path, start=start, end=None).load()
with initialize_config_dir(config_dir=conf, version_base="1.3"):
    cfg = compose("config")
windows = make_windows(instantiate(cfg.features)(market.frame), market.frame["Close"],
                       int(cfg.forecaster.window))
walkforward, forecaster = instantiate(cfg.walkforward), instantiate(cfg.forecaster)
import_keras()
wall, cpu = time.perf_counter(), time.process_time()
out = walkforward.run(forecaster, windows, seed=seed, progress=False)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
actual, forecast = out["actual"].to_numpy(), out["forecast"].to_numpy()
known = np.isfinite(actual)
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "mse": float(np.mean((forecast[known] - actual[known]) ** 2)),
                  "folds": len(walkforward.folds(len(windows))), "forecaster": cfg.forecaster._target_}))
"""


def side(code: Path, args: argparse.Namespace) -> dict:
    """SIDE run from checkout CODE in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "2", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SIDE, str(Path(args.data).resolve()), args.start,
                           str(code / "conf"), str(args.seed)], cwd=code, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"the walk-forward in {code} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def side_by_side(args: argparse.Namespace) -> None:
    """This checkout's walk-forward against `args.old`'s, alternating rounds; JSON ratios."""
    from tests.benchmarks.default_run import old_checkout

    root = Path(__file__).resolve().parents[2]
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="walkforward-bench-") as tmp:
        with old_checkout(args.old, Path(tmp) / "old-code") as old_code:
            for number in range(1, args.rounds + 1):
                for label, code in (("old", old_code), ("new", root)):
                    runs[label].append(side(code, args))
                    run = runs[label][-1]
                    print(f"round {number} {label}: wall {run['wall_s']:.1f} s, CPU {run['cpu_s']:.1f} s, "
                          f"mse {run['mse']:.6g}, {run['folds']} folds, {run['forecaster']}", flush=True)
    pairs = list(zip(runs["old"], runs["new"]))
    print(json.dumps({
        "ratio": round(statistics.median(n["wall_s"] / o["wall_s"] for o, n in pairs), 3), "goal": "<= 0.3",
        "cpu_ratio": round(statistics.median(n["cpu_s"] / o["cpu_s"] for o, n in pairs), 3),
        "mse_ratio": round(runs["new"][0]["mse"] / runs["old"][0]["mse"], 4), "mse_goal": "within 1%",
        "old_s": round(statistics.median(r["wall_s"] for r in runs["old"]), 2),
        "new_s": round(statistics.median(r["wall_s"] for r in runs["new"]), 2),
        "old": args.old, "rounds": args.rounds, "load_1min": round(os.getloadavg()[0], 2),
        "data": Path(args.data).name, "start": args.start}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="a daily price CSV (Yahoo layout or OHLCV)")
    parser.add_argument("--start", default="2010-01-01")
    parser.add_argument("--end", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--old", default=None, help="time this loop beside that commit's instead")
    parser.add_argument("--rounds", type=int, default=2, help="with --old: pairs of runs")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. walkforward.retrain_every=63")
    args = parser.parse_args()
    if args.old:
        side_by_side(args)
        return

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=args.overrides)
    path = Path(args.data)
    market = source("csv", ticker=path.stem, path=str(path), start=args.start, end=args.end).load()
    features = instantiate(cfg.features)(market.frame)
    windows = make_windows(features, market.frame["Close"], int(cfg.forecaster.window))
    walkforward = instantiate(cfg.walkforward)
    forecaster = instantiate(cfg.forecaster)
    folds = walkforward.folds(len(windows))
    import_keras()  # import cost kept out of both timings

    started = time.perf_counter()
    ours = walkforward.run(forecaster, windows, seed=args.seed, progress=False)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    naive = naive_walk_forward(windows, walkforward, dict(cfg.forecaster), args.seed)
    naive_s = time.perf_counter() - started

    actual = ours["actual"].to_numpy()
    known = np.isfinite(actual)
    mse_ours = float(np.mean((ours["forecast"].to_numpy()[known] - actual[known]) ** 2))
    mse_naive = float(np.mean((naive[known] - actual[known]) ** 2))
    mse_zero = float(np.mean(actual[known] ** 2))
    print(json.dumps({
        "speedup": round(naive_s / ours_s, 2), "seconds_ours": round(ours_s, 1),
        "seconds_naive": round(naive_s, 1), "oos_mse_ours": mse_ours, "oos_mse_naive": mse_naive,
        "mse_ratio_ours_to_naive": round(mse_ours / mse_naive, 4),
        "oos_mse_persistence": mse_zero, "folds": len(folds), "bars": len(market.frame),
        "oos_forecasts": int(known.sum()), "data": path.name,
    }))


if __name__ == "__main__":
    main()
