"""`mode=survivorship`: how much of a universe result is survivorship bias, measured.

The same experiment runs twice on one membership file (universe=membership universe.file=PATH):
once on today's members run back over the whole period (`universe.survivors=true`, what a list of
current constituents gives) and once point in time (each date's members only). Each run writes its
own complete folder (`today/`, `point_in_time/`); the figures that survivorship flatters (IC, Rank
IC, the drift baseline, the strategy's and the equal-weight benchmark's returns) are set side by
side in survivorship.csv and survivorship.json, and in the log.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, open_dict

from backtests.atomic import write_csv, write_json
from backtests.errors import UserError
from backtests.stages.chain import run_chain

log = logging.getLogger(__name__)

RUNS = {"today": True, "point_in_time": False}  # folder -> universe.survivors
FIGURES = (  # (row name, path in metrics.json)
    ("ic", ("cross_section", "ic")), ("rank_ic", ("cross_section", "rank_ic")),
    ("ic_t", ("cross_section", "ic_t")), ("drift_ic", ("cross_section", "baselines", "drift", "ic")),
    ("drift_rank_ic", ("cross_section", "baselines", "drift", "rank_ic")),
    ("ridge_ic", ("cross_section", "baselines", "ridge", "ic")),
    ("days", ("cross_section", "days")),
    ("strategy_total_return", ("strategy", "total_return")), ("strategy_sharpe", ("strategy", "sharpe")),
    ("equal_weight_total_return", ("benchmark", "total_return")),
    ("equal_weight_sharpe", ("benchmark", "sharpe")),
)


def run_survivorship(cfg: DictConfig) -> float:
    """Run today's members and point-in-time membership; return the point-in-time objective."""
    if not cfg.universe.get("file"):
        raise UserError("mode=survivorship compares today's members with point-in-time membership "
                        "and needs a membership file",
                        "add universe=membership universe.file=PATH (CSV ticker,start,end; qlib's "
                        "instruments file; or date,tickers snapshots)")
    out = Path(cfg.paths.output_dir)
    objectives, figures = {}, {}
    for name, survivors in RUNS.items():
        run = cfg.copy()
        with open_dict(run):
            run.universe.survivors = survivors
            run.paths.output_dir = str(out / name)
        log.info("survivorship: the %s run (universe.survivors=%s) in %s", name.replace("_", " "),
                 str(survivors).lower(), out / name)
        objectives[name] = run_chain(run)
        figures[name] = read_figures(out / name / "metrics.json")
    table = side_by_side(figures["today"], figures["point_in_time"])
    verdict = survivorship_verdict(table)
    write_csv(out / "survivorship.csv", table, index_label="figure", float_format="%.6g")
    write_json(out / "survivorship.json", {
        "file": str(cfg.universe.file), "runs": {n: str(out / n) for n in RUNS},
        "figures": json.loads(table.to_json(orient="index")), "verdict": verdict})
    log.info("survivorship: today's members vs point in time\n%s", table.to_string(float_format="%.4f"))
    log.info("survivorship: %s", verdict)
    return objectives["point_in_time"]


def read_figures(path: Path) -> dict[str, Any]:
    """FIGURES from one run's metrics.json (NaN where the run has none: no portfolio traded),
    and the number of tickers it covered."""
    metrics = json.loads(path.read_text())
    found: dict[str, Any] = {"tickers": len(metrics["universe"]["tickers"])}
    for name, keys in FIGURES:
        node: Any = metrics
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        found[name] = math.nan if node is None else node
    return found


def side_by_side(today: dict[str, Any], point_in_time: dict[str, Any]) -> pd.DataFrame:
    """figure x (today, point_in_time, today_minus_point_in_time)."""
    table = pd.DataFrame({"today": pd.Series(today, dtype="float64"),
                          "point_in_time": pd.Series(point_in_time, dtype="float64")})
    table["today_minus_point_in_time"] = table["today"] - table["point_in_time"]
    return table


def survivorship_verdict(table: pd.DataFrame) -> str:
    """One sentence: how much today's members overstate IC and the strategy's return."""
    ic = table.loc["ic"]
    text = (f"today's members score a mean daily IC of {ic['today']:.4f} against "
            f"{ic['point_in_time']:.4f} point in time (difference {ic['today_minus_point_in_time']:+.4f})")
    ret = table.loc["strategy_total_return"]
    if math.isfinite(ret["today"]):
        bench = table.loc["equal_weight_total_return"]
        text += (f"; the strategy returns {100 * ret['today']:+.1f}% against "
                 f"{100 * ret['point_in_time']:+.1f}%, the equal-weight benchmark "
                 f"{100 * bench['today']:+.1f}% against {100 * bench['point_in_time']:+.1f}%")
    return text + ": the difference is what survivorship adds."
