"""Benchmark: the risk walk-forward on every ticker of a folder, and who passes the VaR backtests.

    python tests/benchmarks/var_table.py --data ../shared/data/yahoo [--start 2010-01-01] [--out FILE]

For each <TICKER>.csv it runs the shipped risk methods (conf/risk_model/default.yaml: the risk
LSTM at its default size, historical simulation, EWMA, GARCH(1,1)-t) through the shipped
walk-forward (conf/walkforward/default.yaml) from `--start`, then prints, per method and level, how
many tickers pass Kupiec, Christoffersen's conditional coverage and both (p >= 0.05), the mean
rank of its quantile loss (1 = lowest) and how often it has the lowest. The return forecaster is not
needed (risk forecasts use only the windows), so none is trained. The last line printed is JSON.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

import backtests.cli  # noqa: E402,F401  (registers the resolvers conf/ uses)
from backtests.errors import UserError  # noqa: E402
from backtests.pipeline.risk import risk_results, risk_settings, walk_forward_risk  # noqa: E402

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def ticker_backtests(folder: Path, ticker: str, start: str, overrides: list[str]) -> pd.DataFrame:
    """var_backtests rows of one ticker (risk walk-forward only, nothing cached)."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=["data=csv", f"data.path={folder}", f"ticker={ticker}",
                                           f"data.start={start}", "paths.cache_dir=/tmp/var_table",
                                           *overrides])
    market = instantiate(cfg.data).load()
    settings = risk_settings(cfg)
    assert settings is not None, "risk_model.enabled is false"
    _, table, _ = risk_results(walk_forward_risk(cfg, market, settings, use_cache=False), ticker)
    return table


def summary(table: pd.DataFrame, significance: float = 0.05) -> pd.DataFrame:
    """Per method and level: tickers passing each test, mean quantile-loss rank, lowest-loss wins."""
    table = table.assign(
        kupiec=table["kupiec_p"] >= significance, cc=table["christoffersen_cc_p"] >= significance,
        rank=table.groupby(["asset", "level"])["quantile_loss"].rank(method="min"))
    table["both"] = table["kupiec"] & table["cc"]
    grouped = table.groupby(["level", "method"], sort=False)
    return pd.DataFrame({"tickers": grouped.size(), "pass_kupiec": grouped["kupiec"].sum(),
                         "pass_christoffersen_cc": grouped["cc"].sum(), "pass_both": grouped["both"].sum(),
                         "mean_quantile_loss_rank": grouped["rank"].mean().round(2),
                         "lowest_quantile_loss": grouped["rank"].apply(lambda r: int((r == 1).sum()))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="folder of <TICKER>.csv")
    parser.add_argument("--start", default="2010-01-01")
    parser.add_argument("--out", type=Path, help="write every ticker's var_backtests rows here")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. risk_model.lstm_units=4")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tables, skipped, started = [], {}, time.perf_counter()
    for path in sorted(args.data.glob("*.csv")):
        ticker = path.stem.upper()
        begun = time.perf_counter()
        try:
            tables.append(ticker_backtests(args.data.resolve(), ticker, args.start, args.overrides))
        except UserError as exc:
            skipped[ticker] = str(exc)
            print(f"{ticker}: skipped ({exc})", flush=True)
            continue
        print(f"{ticker}: {time.perf_counter() - begun:.1f} s", flush=True)
    table = pd.concat(tables, ignore_index=True)
    if args.out:
        table.to_csv(args.out, index=False)
    result = summary(table)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(result)
    print(json.dumps({"tickers": int(table["asset"].nunique()), "skipped": skipped,
                      "seconds": round(time.perf_counter() - started, 1),
                      "summary": {f"{level}/{method}": row for (level, method), row in
                                  result.astype(float).to_dict("index").items()}}))


if __name__ == "__main__":
    main()
