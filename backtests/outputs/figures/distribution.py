"""The forecast-distribution figures, drawn from distribution.csv and metrics.json's `distribution`
block only, so each picture shows the numbers the report's tables print.

distribution_fan.png: per horizon, the network's 5-95% and 25-75% bands and median over the last
sessions, the realised h-session returns as points (outside the 90% band in red) and the best
baseline's 90% band for scale. distribution_calibration.png: per horizon, the PIT histogram (flat
when calibrated) and the reliability diagram of P(up). The panel titles are the labels the report's
table cells use (`coverage_label`, `pit_label`, `brier_label`): one formatter, the same figures.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.outputs.artifact_cache import ArtifactCache
from backtests.outputs.html import finite, pvalue, share
from backtests.outputs.plots import _pyplot, _save

MODEL = "lstm"  # distribution.csv's method name of the network's rows
FAN = "distribution_fan.png"
CALIBRATION = "distribution_calibration.png"
FAN_SESSIONS = 120
NAMES = {"lstm": "LSTM", "garch": "GARCH-t", "ewma": "EWMA", "historical": "historical",
         "climatology": "climatology"}


def method_name(method: str) -> str:
    """The name a reader sees: LSTM, GARCH-t, EWMA, or the method as configured."""
    return NAMES.get(method, method)


def horizon_keys(block: Mapping[str, Any]) -> list[str]:
    """The block's horizons in order: h1, h5, h20."""
    return sorted((k for k in block if k.startswith("h") and k[1:].isdigit()), key=lambda k: int(k[1:]))


def coverage_label(scores: Mapping[str, Any], interval: str) -> str:
    """`78.0% (p <0.001)`: a central interval's realised coverage and the test of its nominal rate."""
    cover = (scores.get("coverage") or {}).get(interval) or {}
    return f"{share(cover.get('rate'))} (p {pvalue(cover.get('p'))})"


def pit_label(scores: Mapping[str, Any]) -> str:
    """The KS p-value of uniform PIT values."""
    return pvalue((scores.get("pit") or {}).get("p"))


def brier_label(scores: Mapping[str, Any]) -> str:
    """`-4.9% (p 0.040)`: the Brier skill of P(up) against climatology, and its DM p-value."""
    skill = finite(scores.get("brier_skill"))
    text = "–" if skill is None else f"{100 * skill:+.1f}%"
    return f"{text} (p {pvalue(scores.get('brier_dm_pvalue'))})"


def write_distribution_figures(folder: Path, block: Mapping[str, Any], title: str,
                               cache: ArtifactCache) -> list[str]:
    """Draw both figures into `folder` from its distribution.csv (a rerun copies them from the
    cache); the names written."""
    table = pd.read_csv(folder / "distribution.csv", parse_dates=["date"])
    cache.file(folder / FAN, [table, dict(block), title],
               lambda path: write_fan_chart(path, table, block, title))
    cache.file(folder / CALIBRATION, [table, dict(block), title],
               lambda path: write_calibration_plot(path, table, block, title))
    return [FAN, CALIBRATION]


def write_fan_chart(path: Path, table: pd.DataFrame, block: Mapping[str, Any], title: str,
                    sessions: int = FAN_SESSIONS) -> None:
    """One panel per horizon: the network's bands at each close over the last `sessions` test
    days, and the h-session return that followed each close (none yet for the last h)."""
    plt = _pyplot()
    keys = horizon_keys(block)
    fig, axes = plt.subplots(len(keys), 1, figsize=(12, 0.8 + 3.1 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        horizon, scores = int(key[1:]), block[key]
        rows = _rows(table, MODEL, horizon).tail(sessions)
        dates = rows["date"]
        ax.fill_between(dates, rows["q05"], rows["q95"], color="tab:blue", alpha=0.18, lw=0,
                        label="LSTM 5-95%")
        ax.fill_between(dates, rows["q25"], rows["q75"], color="tab:blue", alpha=0.35, lw=0,
                        label="LSTM 25-75%")
        ax.plot(dates, rows["q50"], color="tab:blue", lw=1.0, label="LSTM median")
        best = (scores.get("comparison") or {}).get("best_baseline")
        if best:
            base = _rows(table, best, horizon).set_index("date").reindex(dates)
            for column, label in (("q05", f"{method_name(best)} 5-95% (best baseline)"), ("q95", None)):
                ax.plot(dates, base[column].to_numpy(), color="0.35", lw=0.8, ls="--", label=label)
        known = rows.dropna(subset=["realised"])
        outside = (known["realised"] < known["q05"]) | (known["realised"] > known["q95"])
        ax.scatter(known["date"][~outside], known["realised"][~outside], s=9, color="black",
                   zorder=3, label=f"realised {horizon}-session return")
        ax.scatter(known["date"][outside], known["realised"][outside], s=14, color="tab:red",
                   zorder=3, label=f"outside 5-95% ({int(outside.sum())} of {len(known)} here)")
        ax.axhline(0, color="black", lw=0.5)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.3 * (high - low))  # headroom: the legend covers no point
        ax.yaxis.set_major_formatter(_percent())
        lstm = (scores.get("methods") or {}).get(MODEL) or {}
        ax.set_title(f"{horizon}-session log return, forecast at each close · over the whole test "
                     f"period the LSTM's 90% band held {coverage_label(lstm, '90')}, its 50% band "
                     f"{coverage_label(lstm, '50')}", fontsize=9.5, loc="left")
        ax.legend(loc="upper left", fontsize=7, ncol=6)
        ax.set_ylabel("log return")
    axes[-1, 0].set_xlabel("date of the close the forecast is made at (the point: the return "
                           "over the next h sessions; the last h have none yet)")
    fig.suptitle(f"{title}\nThe LSTM's forecast distributions over the last {sessions} sessions, "
                 "out of sample", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def write_calibration_plot(path: Path, table: pd.DataFrame, block: Mapping[str, Any],
                           title: str) -> None:
    """Per horizon: the PIT histogram (the LSTM's bars, the best baseline's outline) and the
    reliability diagram of P(up)."""
    plt = _pyplot()
    keys = horizon_keys(block)
    fig, axes = plt.subplots(len(keys), 2, figsize=(12, 0.9 + 3.6 * len(keys)), squeeze=False)
    for (pit_ax, rel_ax), key in zip(axes, keys):
        horizon, scores = int(key[1:]), block[key]
        methods = scores.get("methods") or {}
        if MODEL not in methods:
            pit_ax.set_axis_off()
            rel_ax.set_axis_off()
            continue
        best = (scores.get("comparison") or {}).get("best_baseline")
        _pit_panel(pit_ax, horizon, methods, best)
        _reliability_panel(rel_ax, horizon, methods[MODEL], _climatology(table, horizon))
    fig.suptitle(f"{title}\nCalibration of the LSTM's distributions (out of sample): PIT "
                 "histograms and the reliability of P(up)", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def _pit_panel(ax, horizon: int, methods: Mapping[str, Any], best: str | None) -> None:
    counts = np.asarray(methods[MODEL]["pit"]["histogram"], dtype=float)
    bins = len(counts)
    edges = np.linspace(0, 1, bins + 1)
    expected = counts.sum() / bins
    ax.bar(edges[:-1], counts / expected, width=1 / bins, align="edge", color="tab:blue",
           alpha=0.6, edgecolor="white", label="LSTM")
    if best and best in methods:
        other = np.asarray(methods[best]["pit"]["histogram"], dtype=float)
        ax.stairs(other / expected, edges, color="0.25", lw=1.2,
                  label=f"{method_name(best)} (best baseline)")
    ax.axhline(1, color="black", ls=":", lw=1, label="uniform (calibrated)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.3 * ax.get_ylim()[1])  # headroom: the legend covers no bar
    ax.set_xlabel("PIT: the forecast's CDF at the realised return")
    ax.set_ylabel("density")
    ax.set_title(f"{horizon}-session PIT · LSTM uniform p {pit_label(methods[MODEL])} · "
                 "U: too narrow, hump: too wide, slope: biased", fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="upper center", ncol=3)


def _reliability_panel(ax, horizon: int, scores: Mapping[str, Any], climatology: float) -> None:
    bins = [b for b in scores.get("reliability") or [] if b.get("count")]
    forecast = np.array([b["mean_forecast"] for b in bins], dtype=float)
    observed = np.array([b["observed"] for b in bins], dtype=float)
    counts = np.array([b["count"] for b in bins], dtype=float)
    ax.plot([0, 1], [0, 1], color="black", ls=":", lw=1, label="perfectly reliable")
    if len(bins):
        ax.plot(forecast, observed, color="tab:blue", lw=0.6, alpha=0.6)
        ax.scatter(forecast, observed, s=12 + 400 * counts / counts.sum(), color="tab:blue",
                   alpha=0.7, zorder=3, label="LSTM (size, number: days in the bin)")
        for x, y, n in zip(forecast, observed, counts):  # a bin of 5 days says little: show it
            ax.annotate(f"{int(n)}", (x, y), textcoords="offset points", xytext=(6, -10),
                        fontsize=7, color="tab:blue")
        rate = float((observed * counts).sum() / counts.sum())
        ax.axhline(rate, color="0.45", lw=0.8, ls="--",
                   label=f"share of rises, all scored days ({share(rate)})")
    if np.isfinite(climatology):
        ax.axvline(climatology, color="tab:green", lw=0.8, ls="-.",
                   label=f"climatology's P(up), mean ({share(climatology)})")
    ax.set_xlim(-0.02, 1.02)  # a bin that all rose (or all fell) stays in view
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlabel("forecast P(up) (each point: the days whose P(up) fell in one tenth)")
    ax.set_ylabel("observed share of rises")
    ax.set_title(f"{horizon}-session P(up) · Brier skill against climatology "
                 f"{brier_label(scores)}", fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="best", framealpha=0.85)


def _rows(table: pd.DataFrame, method: str, horizon: int) -> pd.DataFrame:
    rows = table[(table["method"] == method) & (table["horizon"] == horizon)]
    return rows.sort_values("date").reset_index(drop=True)


def _climatology(table: pd.DataFrame, horizon: int) -> float:
    """The mean climatological P(up) over the network's scored dates (realised known)."""
    if "p_up_climatology" not in table.columns:
        return float("nan")
    rows = _rows(table, MODEL, horizon).dropna(subset=["realised"])
    return float(rows["p_up_climatology"].mean()) if len(rows) else float("nan")


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1, decimals=1)
