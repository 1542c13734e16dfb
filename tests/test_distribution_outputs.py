"""What a user sees of the forecast distributions: figures, the report section, mode=predict."""
from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import open_dict

from backtests.modes.experiment import run_experiment
from backtests.modes.predict import run_predict
from backtests.outputs.figures import distribution as figures
from backtests.outputs.report import render_report
from backtests.outputs.sections.distribution import distribution_section
from tests.conftest import DISTRIBUTION as DIST
from tests.conftest import PLOTS

HORIZONS = ("h1", "h5", "h20")


def _text(page: str) -> str:
    """The page's visible text, tags dropped and entities decoded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _titles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every axes title the distribution figures draw, caught as they are saved."""
    seen: list[str] = []
    real = figures._save

    def keep(fig, path: Path) -> None:
        seen.extend(ax.get_title(loc="left") for ax in fig.axes)
        real(fig, path)

    monkeypatch.setattr(figures, "_save", keep)
    return seen


def test_figures_and_report_section_agree_with_metrics_and_a_rerun_draws_nothing(
        make_cfg, tmp_path, monkeypatch):
    titles = _titles(monkeypatch)
    cfg = make_cfg(*DIST, PLOTS)
    run_experiment(cfg)
    out = tmp_path / "run"
    for name in (figures.FAN, figures.CALIBRATION):
        assert (out / name).stat().st_size > 10_000
    block = json.loads((out / "metrics.json").read_text())["distribution"]
    assert list(block) == list(HORIZONS)
    page = (out / "report.html").read_text()
    text = _text(page)
    assert "Forecast distributions" in text and page.count("data:image/png") >= 4
    for key in HORIZONS:
        scores = block[key]
        assert scores["verdict"] in text
        lstm = scores["methods"]["lstm"]
        # The figures' titles carry the table's own cells: one number, shown twice.
        fan = next(t for t in titles if t.startswith(f"{key[1:]}-session log return"))
        assert figures.coverage_label(lstm, "90") in fan and figures.coverage_label(lstm, "50") in fan
        pit = next(t for t in titles if t.startswith(f"{key[1:]}-session PIT"))
        assert f"uniform p {figures.pit_label(lstm)}" in pit
        reliability = next(t for t in titles if t.startswith(f"{key[1:]}-session P(up)"))
        assert figures.brier_label(lstm) in reliability
        for method, s in scores["methods"].items():  # every method's row, numbers as in metrics
            best = min(m["crps"] for m in scores["methods"].values())
            row = (f"{figures.method_name(method)} {s['crps']:.6f} {s['crps'] / best:.3f} "
                   f"{figures.coverage_label(s, '90')} {figures.coverage_label(s, '50')} "
                   f"{figures.pit_label(s)} {figures.brier_label(s)}")
            assert row in text, row
    # The same run into another folder: both figures are copied from the artifact cache.
    monkeypatch.setattr(figures, "write_fan_chart", _must_not_draw)
    monkeypatch.setattr(figures, "write_calibration_plot", _must_not_draw)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "again")
    run_experiment(cfg)
    for name in (figures.FAN, figures.CALIBRATION):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()


def _must_not_draw(*args, **kwargs) -> None:
    raise AssertionError("drawn again although its inputs are unchanged")


def test_no_figures_without_plots_and_the_next_distribution_is_the_backtests(
        make_cfg, tmp_path, caplog):
    # The test preset (report.plots=false); the lstm risk method reads the network's 1-session t.
    cfg = make_cfg(*DIST, "risk_model.methods=[lstm,historical,ewma]")
    with caplog.at_level(logging.INFO, logger="backtests.modes.predict"):
        run_predict(cfg)
    said = json.loads((tmp_path / "run" / "forecast.json").read_text())
    lines = [r.getMessage() for r in caplog.records if r.name == "backtests.modes.predict"]
    assert [row["horizon"] for row in said["distribution"]] == [1, 5, 20]
    for h in (1, 5, 20):
        assert any(line.startswith(f"predict: {h}-session log return from this close: mean")
                   and "P(up)" in line for line in lines), lines
    for level in ("95", "99"):
        line = next(x for x in lines if x.startswith(f"predict: 1-day VaR / ES at {level}%"))
        assert "lstm" in line and "historical" in line and "ewma" in line
        assert set(said["risk"]["ewma"]) >= {f"var_{level}", f"es_{level}"}
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "backtest")
    run_experiment(cfg)  # the same data: the same forecasts, from the cache
    out = tmp_path / "backtest"
    assert not list(out.glob("distribution*.png"))
    assert "Forecast distributions" in (out / "report.html").read_text()
    table = pd.read_csv(out / "distribution.csv", parse_dates=["date"])
    last = table[(table["method"] == "lstm") & (table["date"] == table["date"].max())]
    assert str(last["date"].iloc[0].date()) == said["as_of_close"]
    for row in said["distribution"]:
        csv = last[last["horizon"] == row["horizon"]].iloc[0]
        for column in ("mean", "q05", "q50", "q95", "p_up"):
            assert row[column] == pytest.approx(csv[column], rel=1e-9, abs=1e-12)
    var = pd.read_csv(out / "var.csv", parse_dates=["date"])
    for method in ("lstm", "ewma"):
        row = var[(var["method"] == method) & (var["date"] == var["date"].max())].iloc[0]
        for measure in ("var_95", "es_99"):
            assert said["risk"][method][measure] == pytest.approx(row[measure], rel=1e-9)


def test_point_forecaster_runs_show_no_distribution_section(tmp_path):
    assert distribution_section(None, tmp_path) == []
    assert distribution_section({}, tmp_path) == []
    page = render_report(tmp_path, {"strategy": {}, "benchmark": {}}, {}, pd.DataFrame())
    assert "Forecast distributions" not in page and "distribution.csv" not in page


def test_section_escapes_method_names_and_shows_missing_scores(tmp_path):
    block = {"h1": {"horizon": 1, "verdict": "1-session: <b>x</b>", "methods": {
        "lstm": {"crps": 0.01, "coverage": {"90": {"rate": 0.9, "p": 0.5}}},
        "<script>": {"crps": 0.02}}}}
    page = "".join(distribution_section(block, tmp_path))
    assert "<script>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "90.0% (p 0.500)" in page and "<b>1.000</b>" in page and "2.000" in page


def test_predict_trades_a_distribution_strategy_on_the_backtests_bars(make_cfg, tmp_path):
    # lstm_probability reads P(up) and the t of its horizon from the bars: predict builds them
    # through the trade stage, so its position at the last close is the backtest's.
    cfg = make_cfg(*DIST, "strategy=lstm_probability", "strategy.threshold=0.5",
                   "strategy.mode=daily")
    run_predict(cfg)
    said = json.loads((tmp_path / "run" / "forecast.json").read_text())
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "backtest")
    run_experiment(cfg)
    trades = pd.read_csv(tmp_path / "backtest" / "trades.csv")
    assert len(trades) > 0
    still_open = trades[trades["exit_reason"] == "end_of_data"]
    held = "flat" if still_open.empty else str(still_open["direction"].iloc[0])
    assert said["position"] == held
    assert said["strategy"] == "LSTMProbability" and len(said["distribution"]) == 3
