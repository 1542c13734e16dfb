"""report.html's "Why the model says what it says" section, read from the run's importance files.

It reads the CSVs and PNGs that backtests/explanations.py wrote into the run folder (as the rest of
the report reads the run's plots), so the page can be rebuilt from the folder alone. Its first lines
say in words which inputs matter and whether that holds across refits; tables and plots follow.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtests.explanations import PLOTS, TABLES, model_name
from backtests.report import embed_plots, esc, num, share, table
from forecasting.explain.drift import drift_summary

CAPTIONS = ("Left: rise in out-of-sample MSE when one feature is shuffled across the test windows "
            "(all its lags together), with ±2 standard errors; middle: each feature's share of the "
            "integrated-gradient attribution; right: the MSE rise when a block of lags is shuffled "
            "(every feature).",
            "Mean absolute integrated gradient per feature and lag over every out-of-sample forecast "
            "(baseline: the fold's training-mean window).",
            "Each feature's share of the attribution in every refit: lines that cross mean the model "
            "changed what it looks at.")


def explain_section(folder: Path, config: dict) -> str:
    """The section's HTML (escaped), or "" when the run has no attributions (report.explain=false)."""
    model = model_name((config.get("forecaster") or {}).get("_target_"))
    paths = [folder / name for name in TABLES]
    if not all(p.exists() for p in paths):
        return ""
    features, _, blocks, folds = (pd.read_csv(p) for p in paths)
    drift = drift_summary(folds)
    links = " · ".join(f'<a href="{name}">{name}</a>' for name in TABLES)
    return "".join([
        "<h2>Why the model says what it says</h2>",
        f'<div class="verdict">{esc(findings(features, blocks, drift, model))}</div>',
        _feature_table(features), _block_table(blocks),
        embed_plots(folder, list(zip(PLOTS, CAPTIONS))),
        f"<p>Permutation importance shuffles an input across each fold's out-of-sample windows "
        f"with that fold's model and pools the folds by size; its spread is the standard error "
        f"over the scored windows. Integrated gradients attribute each forecast to feature x lag "
        f"from the fold's training-mean window. Files: {links}.</p>",
    ])


def findings(features: pd.DataFrame, blocks: pd.DataFrame, drift: dict, model: str) -> str:
    """Which inputs matter and whether that is stable, in three plain sentences."""
    shares = features.set_index("feature")["integrated_gradients"]
    shares = (shares / shares.sum()).sort_values(ascending=False)
    lag_share = blocks.set_index("lags")["integrated_gradients"]
    lag_share = lag_share / lag_share.sum()
    text = (f"The {model} looks most at {shares.index[0]} ({share(shares.iloc[0], 0)} of the "
            f"integrated-gradient attribution) and {shares.index[1]} ({share(shares.iloc[1], 0)}), "
            f"and most at lags {lag_share.idxmax()} ({share(lag_share.max(), 0)}). "
            if len(shares) > 1 and shares.notna().all() else "")
    z = features["permutation_mse_increase"] / features["permutation_std"]
    helpful, harmful = features["feature"][z > 2].tolist(), features["feature"][z < -2].tolist()
    if helpful:
        text += (f"Shuffling {_names(helpful)} raises the out-of-sample MSE by more than two "
                 "standard errors: the forecasts' skill rests on it. ")
    else:
        text += ("Shuffling no single input raises the out-of-sample MSE by more than two standard "
                 "errors: what the model looks at does not measurably improve its forecasts. ")
    if harmful:
        text += f"Without {_names(harmful)} (shuffled) it forecasts better. "
    if drift.get("folds", 0) >= 3:
        text += (f"Across the {drift['folds']} refits this is {drift['stability']}: "
                 f"{drift['leader']} leads in {drift['leader_folds']} of them, consecutive refits "
                 f"rank the features with a mean correlation of {num(drift['rank_correlation'])}, "
                 f"and {drift['most_variable']}'s share moves most "
                 f"({share(drift['most_variable_range'][0], 0)} to "
                 f"{share(drift['most_variable_range'][1], 0)}).")
    return text.strip()


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _plus_minus(value: float, error: float, digits: int) -> str:
    return f"{num(value, digits)} ± {num(error, digits)}"


def _feature_table(features: pd.DataFrame) -> str:
    total = features["integrated_gradients"].sum()
    rows = [(esc(r.feature), num(r.rank, 0),
             _plus_minus(r.permutation_mse_increase, r.permutation_std, 2),
             _plus_minus(r.direction_accuracy_drop, r.direction_accuracy_std, 3),
             share(r.integrated_gradients / total if total > 0 else None))
            for r in features.itertuples(index=False)]
    return table(("Feature", "Rank", "MSE increase when shuffled (± s.e.)",
                  "Directional accuracy drop (± s.e.)", "Share of integrated gradients"), rows)


def _block_table(blocks: pd.DataFrame) -> str:
    total = blocks["integrated_gradients"].sum()
    rows = [(esc(f"lags {r.lags}"), _plus_minus(r.permutation_mse_increase, r.permutation_std, 2),
             _plus_minus(r.direction_accuracy_drop, r.direction_accuracy_std, 3),
             share(r.integrated_gradients / total if total > 0 else None))
            for r in blocks.itertuples(index=False)]
    return table(("Lags (1 = the forecast day's bar)", "MSE increase when shuffled (± s.e.)",
                  "Directional accuracy drop (± s.e.)", "Share of integrated gradients"), rows)
