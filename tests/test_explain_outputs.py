"""A run with report.explain writes the attribution files and report section, cached or not."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from omegaconf import open_dict

from backtests.modes import experiment
from backtests.outputs.explanations import PLOTS, TABLES
from backtests.outputs.sections.explain import explain_section
from tests.conftest import EXPLAIN

COLUMNS = ["feature", "permutation_mse_increase", "permutation_std", "direction_accuracy_drop",
           "integrated_gradients", "rank"]


def _run(make_cfg, name: str, *overrides: str) -> tuple[Path, dict]:
    cfg = make_cfg(*overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(Path(cfg.paths.output_dir).parent / name)
    experiment.run_experiment(cfg)
    folder = Path(cfg.paths.output_dir)
    return folder, json.loads((folder / "run_info.json").read_text())


def test_files_section_and_a_cached_rerun_that_still_writes_them(make_cfg):
    first, info = _run(make_cfg, "first", "report.plots=true", EXPLAIN)
    assert not info["forecasts_from_cache"]
    for name in (*TABLES, *PLOTS):
        assert (first / name).stat().st_size > 0, name
    importance = pd.read_csv(first / "importance.csv")
    assert list(importance.columns[:6]) == COLUMNS and importance["rank"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    folds = pd.read_csv(first / "importance_folds.csv")
    assert folds["fold"].nunique() >= 2 and len(folds) == folds["fold"].nunique() * len(importance)
    lags = pd.read_csv(first / "importance_lags.csv")
    assert len(lags) == 10 * len(importance) and set(lags["lag"]) == set(range(1, 11))
    page = (first / "report.html").read_text()
    assert "<h2>Why the model says what it says</h2>" in page and "The LSTM looks most at" in page

    again, info = _run(make_cfg, "again", "report.plots=true", EXPLAIN)
    assert info["forecasts_from_cache"]
    pd.testing.assert_frame_equal(pd.read_csv(again / "importance.csv"), importance)
    assert (again / "importance_drift.png").exists()


def test_explain_off_writes_nothing_and_a_later_explain_run_trains_again(make_cfg):
    off, info = _run(make_cfg, "off", "forecaster=ridge", "report.explain=false")
    assert not any((off / name).exists() for name in TABLES)
    assert explain_section(off, info["config"]) == ""
    on, info = _run(make_cfg, "on", "forecaster=ridge", EXPLAIN)
    assert not info["forecasts_from_cache"]  # forecasts were cached, but not their attributions
    assert (on / "importance.csv").exists()
    lags = pd.read_csv(on / "importance_lags.csv")
    assert "coefficient" in lags  # ridge's standardised coefficients, its own attribution
    off_predictions = pd.read_csv(off / "predictions.csv")
    pd.testing.assert_frame_equal(off_predictions, pd.read_csv(on / "predictions.csv"))


def test_feature_names_are_escaped_in_the_section(tmp_path):
    evil = '<script>alert("x")</script>'
    pd.DataFrame({"feature": [evil, "b"], "permutation_mse_increase": [1e-6, 0.0],
                  "permutation_std": [1e-7, 1e-7], "direction_accuracy_drop": [0.01, 0.0],
                  "integrated_gradients": [2e-3, 1e-3], "rank": [1, 2],
                  "direction_accuracy_std": [0.01, 0.01], "shuffle_std": [0.0, 0.0],
                  "permutation_mse_increase_pct": [1.0, 0.0]}).to_csv(tmp_path / TABLES[0], index=False)
    pd.DataFrame({"feature": [evil, "b"], "lag": [1, 1], "integrated_gradients": [2e-3, 1e-3]}
                 ).to_csv(tmp_path / TABLES[1], index=False)
    pd.DataFrame({"lags": ["1"], "permutation_mse_increase": [1e-6], "permutation_std": [1e-7],
                  "direction_accuracy_drop": [0.01], "direction_accuracy_std": [0.01],
                  "integrated_gradients": [3e-3], "shuffle_std": [0.0],
                  "permutation_mse_increase_pct": [1.0]}).to_csv(tmp_path / TABLES[2], index=False)
    pd.DataFrame({"fold": [0, 0], "start": ["2020-01-02"] * 2, "samples": [21, 21],
                  "feature": [evil, "b"], "permutation_mse_increase": [1e-6, 0.0],
                  "direction_accuracy_drop": [0.01, 0.0], "integrated_gradients": [2e-3, 1e-3],
                  "integrated_gradients_share": [2 / 3, 1 / 3]}).to_csv(tmp_path / TABLES[3], index=False)
    html = explain_section(tmp_path, {"forecaster": {"_target_": "x.RidgeForecaster"}})
    assert evil not in html and "&lt;script&gt;" in html and "The Ridge looks most at" in html
