"""Benchmark: the portfolio engine against the single-ticker engine, in one run.

    python tests/benchmarks/portfolio.py [--tickers 30] [--bars 2300]

Builds a seeded synthetic universe (random forecasts: the engine's cost does not depend on their
skill), then times, on the same machine in the same process: one single-ticker backtest
(LSTMMomentum on one ticker, the default engine), TopK (k=5, weekly), MarketNeutral (5/5, weekly)
and the equal-weight benchmark over every ticker. Prints seconds, the ratio of each portfolio run
to `tickers` single runs (what trading each ticker alone would cost), and ticker-bars per second.
The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from backtests.data.synthetic import synthetic_bars  # noqa: E402
from backtests.pipeline.engine import run_backtest  # noqa: E402
from backtests.pipeline.portfolio import run_portfolio  # noqa: E402
from strategies.lstm_momentum import LSTMMomentum  # noqa: E402
from strategies.portfolio.equal_weight import EqualWeight  # noqa: E402
from strategies.portfolio.market_neutral import MarketNeutral  # noqa: E402
from strategies.portfolio.topk import TopK  # noqa: E402
from tests.builders import build  # noqa: E402


def universe(tickers: int, bars: int) -> dict[str, pd.DataFrame]:
    """Seeded synthetic bars with a random forecast per ticker, on one calendar."""
    rng = np.random.default_rng(0)
    made = {}
    for number in range(tickers):
        frame = synthetic_bars(bars, seed=100 + number)[["Open", "High", "Low", "Close", "Volume"]]
        made[f"T{number:02d}"] = frame.assign(signal=rng.normal(0.0, 0.001, len(frame)))
    return made


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=30)
    parser.add_argument("--bars", type=int, default=2300)
    args = parser.parse_args()
    bars = universe(args.tickers, args.bars)
    first = next(iter(bars.values()))
    start = first.index[300]
    broker = build("broker/default")
    single = timed(lambda: run_backtest(first, LSTMMomentum, {}, broker, start))
    figures = {"tickers": args.tickers, "bars": args.bars, "single_s": round(single, 2)}
    for name, cls in (("topk", TopK), ("market_neutral", MarketNeutral), ("equal_weight", EqualWeight)):
        seconds = timed(lambda cls=cls: run_portfolio(bars, cls, {}, broker, start))
        figures[f"{name}_s"] = round(seconds, 2)
        figures[f"{name}_vs_single_runs"] = round(seconds / (single * args.tickers), 2)
        figures[f"{name}_ticker_bars_per_s"] = round(args.tickers * args.bars / seconds)
        print(f"{name}: {seconds:.1f} s ({figures[f'{name}_vs_single_runs']:.2f}x {args.tickers} "
              f"single-ticker backtests of {single:.2f} s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
