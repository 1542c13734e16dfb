"""Prediction mode: fit, save, reuse while few new bars arrive, refit after that."""
from __future__ import annotations

import json

import pandas as pd

from backtests.data.synthetic import synthetic_bars
from backtests.predict import model_folder, run_predict

DATES = synthetic_bars(420, seed=42).index


def _predict(make_cfg, tmp_path, end_index: int):
    cfg = make_cfg(f"data.end={DATES[end_index].date()}")
    forecast = run_predict(cfg)
    written = json.loads((tmp_path / "run" / "forecast.json").read_text())
    return cfg, forecast, written


def test_predict_saves_reuses_and_refits(make_cfg, tmp_path):
    cfg, first, written = _predict(make_cfg, tmp_path, 350)
    folder = model_folder(cfg, "MSFT")
    assert {"model.keras", "scaler.json", "config.yaml", "meta.json"} <= {p.name for p in folder.iterdir()}
    assert written["as_of_close"] == str(DATES[350].date()) and not written["model_reused"]
    assert written["signal"] in {"long", "flat", "hold"}
    assert written["forecast_log_return"] == first

    _, again, written = _predict(make_cfg, tmp_path, 350)
    assert written["model_reused"] and again == first  # the loaded model predicts the same

    _, _, written = _predict(make_cfg, tmp_path, 350 + 59)  # fewer than retrain_every=60 new bars
    assert written["model_reused"]
    _, _, written = _predict(make_cfg, tmp_path, 350 + 60)
    assert not written["model_reused"]
    meta = json.loads((folder / "meta.json").read_text())
    assert pd.Timestamp(meta["last_bar"]) == DATES[410]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # nothing left over
