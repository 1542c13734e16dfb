"""report.html's "Why the model says what it says" section, read from the run's importance files.

It reads the CSVs and PNGs that backtests/explanations.py wrote into the run folder (as the rest of
the report reads the run's plots), so the page can be rebuilt from the folder alone. Its first lines
say in words which inputs matter and whether that holds across refits; tables and plots follow.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtests.outputs.explanations import PLOTS, TABLES
from backtests.outputs.figures.explain import lag_label, percent_of_mse
from backtests.outputs.html import embed_plots, esc, finite, forecaster_label, num, share, table
from forecasting.explain.drift import drift_summary

CAPTIONS = ("Left: rise in out-of-sample MSE (% of the model's MSE) when one feature is shuffled "
            "across the test windows (all its lags together), with ±2 standard errors; middle: each "
            "feature's share of the integrated-gradient attribution; right: the MSE rise when a "
            "block of lags is shuffled (every feature).",
            "Mean absolute integrated gradient per feature and lag over every out-of-sample forecast "
            "(baseline: the fold's training-mean window).",
            "Each feature's share of the attribution in every refit (thin) and over six refits "
            "(thick): thick lines that cross mean the model changed what it looks at.")


def explain_section(folder: Path, config: dict) -> str:
    """The section's HTML (escaped), or "" when the run has no attributions (report.explain=false)."""
    model = forecaster_label(config.get("forecaster"))
    paths = [folder / name for name in TABLES]
    if not all(p.exists() for p in paths):
        return ""
    features, lags, blocks, folds = (pd.read_csv(p) for p in paths)
    drift = drift_summary(folds)
    links = " · ".join(f'<a href="{name}">{name}</a>' for name in TABLES)
    return "".join([
        "<h2>Why the model says what it says</h2>",
        f'<div class="verdict">{esc(findings(features, lags, drift, model))}</div>',
        _importance_table(features, [f"{r.rank}. {r.feature}" for r in features.itertuples()],
                          "Feature (rank)"),
        _importance_table(blocks, [lag_label(n) for n in blocks["lags"]],
                          "Lags (1 = the forecast day's bar)"),
        embed_plots(folder, list(zip(PLOTS, CAPTIONS))),
        f"<p>Permutation importance shuffles an input across each fold's out-of-sample windows "
        f"with that fold's model and pools the folds by size; its spread is the standard error "
        f"over the scored windows. Integrated gradients attribute each forecast to feature x lag "
        f"from the fold's training-mean window. Files: {links}.</p>",
    ])


def findings(features: pd.DataFrame, lags: pd.DataFrame, drift: dict, model: str) -> str:
    """Which inputs matter and whether that is stable, in three plain sentences."""
    shares = features.set_index("feature")["integrated_gradients"]
    shares = (shares / shares.sum()).sort_values(ascending=False)
    per_lag = lags.groupby("lag")["integrated_gradients"].sum()
    per_lag = per_lag / per_lag.sum()
    recent = min(5, len(per_lag))
    text = (f"The {model} looks most at {shares.index[0]} ({share(shares.iloc[0], 0)} of the "
            f"integrated-gradient attribution) and {shares.index[1]} ({share(shares.iloc[1], 0)}); "
            f"lag {per_lag.idxmax()} carries the most of any single bar "
            f"({share(per_lag.max(), 0)}) and the last {recent} bars "
            f"{share(per_lag.iloc[:recent].sum(), 0)}. "
            if len(shares) > 1 and shares.notna().all() else "")
    z = features["permutation_mse_increase"] / features["permutation_std"]
    helpful, harmful = features["feature"][z > 2].tolist(), features["feature"][z < -2].tolist()
    if helpful:
        text += (f"Shuffling {_names(helpful)} raises the out-of-sample MSE by more than two "
                 f"standard errors: what skill the forecasts have rests on "
                 f"{'it' if len(helpful) == 1 else 'them'}. ")
    else:
        text += ("Shuffling no single input raises the out-of-sample MSE by more than two standard "
                 "errors: what the model looks at does not measurably improve its forecasts. ")
    if harmful:
        text += f"Without {_names(harmful)} (shuffled) it forecasts better. "
    if drift.get("folds", 0) >= 3:
        text += (f"Across the {drift['folds']} refits the lead is {drift['stability']}: "
                 f"{drift['leader']} leads in {drift['leader_folds']} of them; consecutive refits "
                 f"order all features with a mean rank correlation of "
                 f"{num(drift['rank_correlation'])}, and {drift['most_variable']}'s share moves most "
                 f"({share(drift['most_variable_range'][0], 0)} to "
                 f"{share(drift['most_variable_range'][1], 0)}).")
    return text.strip()


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plus_minus(value: float, error: float, scale: float, digits: int) -> str:
    if finite(value * scale) is None or finite(error * scale) is None:
        return "–"
    return f"{value * scale:+.{digits}f} ± {error * scale:.{digits}f}"


def _importance_table(frame: pd.DataFrame, labels: list[str], first: str) -> str:
    """Features or lag blocks: MSE rise and accuracy drop when shuffled, and gradient share."""
    total, scale = frame["integrated_gradients"].sum(), percent_of_mse(frame)
    rows = [(esc(label), _plus_minus(r.permutation_mse_increase, r.permutation_std, scale, 2),
             _plus_minus(r.direction_accuracy_drop, r.direction_accuracy_std, 100, 1),
             share(r.integrated_gradients / total if total > 0 else None))
            for label, r in zip(labels, frame.itertuples(index=False))]
    return table((first, "MSE increase when shuffled, % (± s.e.)",
                  "Directional accuracy drop, points (± s.e.)", "Share of integrated gradients"),
                 rows)
