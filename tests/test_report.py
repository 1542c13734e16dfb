"""report.html: what ran, strategy vs buy and hold, forecast skill, plots, trades; safe and self-contained."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from backtests.modes import experiment
from backtests.outputs.report import MAX_TRADES, render_report, write_report
from backtests.stages.record import summarise
from tests.conftest import EXPLAIN, RISK_LSTM

EVIL = '<script>alert("x")</script>'
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154"
                    "78da63fcff9f1a0000030101009a8b8a6c0000000049454e44ae426082")


def _metrics() -> dict:
    return {
        "strategy": {"total_return": 0.25, "cagr": 0.1, "sharpe": 1.1, "sortino": 1.6,
                     "max_drawdown": -0.12, "volatility": 0.15, "time_in_market": 0.6, "trades": 2,
                     "win_rate": 0.5, "profit_factor": math.nan, "avg_trade_pct": 0.03,
                     "turnover": 4.0, "excess_total_return": 0.05},
        "benchmark": {"total_return": 0.2, "sharpe": 0.9, "max_drawdown": -0.2, "trades": 1},
        "forecast": {"mse": 0.0003, "mae": 0.012, "rmse": 0.017, "mape": 1.2,
                     "directional_accuracy": 0.51, "directional_accuracy_ci95": [0.48, 0.54],
                     "theil_u": 0.994, "dm_statistic": -0.98, "dm_pvalue": 0.32, "samples": 700,
                     "persistence": {"mse": 0.00029, "directional_accuracy": 0.54},
                     "ridge": {"mse": 0.0003, "dm_statistic": 1.6, "dm_pvalue": 0.1},
                     "verdict": f"The model does not beat persistence {EVIL}"},
        "data": {"source": f"csv:/data/{EVIL}.csv", "ticker": EVIL, "first_date": "2015-01-02",
                 "last_date": "2020-12-11", "rows": 1500, "fingerprint": "abc123"},
        "test_period": {"start": "2018-01-02", "end": "2020-12-11", "days": 740},
    }


def _run_info() -> dict:
    return {"command": {"ticker": EVIL, "strategy": "lstm_momentum", "mode": "backtest"},
            "config": {"seed": 42, "strategy": {"_target_": "strategies.lstm_momentum.LSTMMomentum",
                                                "entry": 0.0005, "exit": 0.0},
                       "risk": {"_target_": "strategies.risk.RiskRules", "stop_loss": 0.08,
                                "take_profit": None, "atr_period": 14},
                       "forecaster": {"_target_": "forecasting.lstm.LSTMForecaster", "window": 30},
                       "walkforward": {"mode": "expanding", "retrain_every": 21},
                       "broker": {"commission": 0.001, "slippage": 0.0005, "cash": 100000.0}},
            "data_fingerprint": "abc123", "forecast_cache_key": "k1", "forecasts_from_cache": True,
            "git_commit": None}


def _trades(rows: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"entry_date": pd.bdate_range("2018-01-02", periods=rows),
                         "exit_date": pd.bdate_range("2018-01-05", periods=rows),
                         "direction": "long", "size": 10.0, "entry_price": 100.0, "exit_price": 101.5,
                         "pnl": 15.0, "pnl_pct": 0.015, "exit_reason": "signal"})


def test_every_user_string_is_escaped_and_the_sections_are_there(tmp_path):
    (tmp_path / "forecast.png").write_bytes(PNG)
    (tmp_path / "tearsheet.html").write_text("<html></html>")
    page = render_report(tmp_path, _metrics(), _run_info(), _trades())
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<script" not in page  # the report runs no script at all
    for heading in ("What ran", "Strategy against buy and hold", "Forecast skill against its baselines",
                    "Plots", "Trades (2)"):
        assert f"<h2>{heading}</h2>" in page
    assert "+25.0%" in page and "+20.0%" in page and "1.10" in page  # strategy vs buy and hold
    assert "0.994" in page and "Persistence" in page and "Ridge" in page and "-0.98 (0.320)" in page
    assert "stop_loss=0.08" in page and "take_profit" not in page  # only the active risk rules
    assert "LSTMMomentum(entry=0.0005, exit=0.0)" in page and "abc123" in page
    assert page.count("data:image/png;base64,") == 1  # forecast.png; forecast_skill.png is absent
    assert 'href="tearsheet.html"' in page and "–" in page  # NaN profit factor shown as a dash
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from the network


def test_without_plots_or_tearsheet_it_says_so(tmp_path):
    page = render_report(tmp_path, _metrics(), _run_info(), _trades(0))
    assert "tearsheet.html" not in page and "No plots" in page and "No trades." in page


def test_a_long_trade_list_is_cut_with_a_pointer_to_trades_csv(tmp_path):
    write_report(tmp_path / "report.html", _metrics(), _run_info(), _trades(MAX_TRADES + 5))
    page = (tmp_path / "report.html").read_text()
    assert page.count("<td>long</td>") == MAX_TRADES and "5 more in" in page


def test_a_run_writes_its_report_before_metrics_json(make_cfg):
    cfg = make_cfg("forecaster=ridge", "report.plots=true", EXPLAIN, RISK_LSTM)
    experiment.run_experiment(cfg)
    folder = Path(cfg.paths.output_dir)
    report, metrics_path = folder / "report.html", folder / "metrics.json"
    assert report.stat().st_mtime_ns <= metrics_path.stat().st_mtime_ns  # metrics.json stays last
    page = report.read_text()
    metrics = json.loads(metrics_path.read_text())
    trades = pd.read_csv(folder / "trades.csv")
    assert page.count("data:image/png;base64,") == 6  # 2 run plots, risk.png, 3 explanation plots
    assert "<h2>Why the model says what it says</h2>" in page  # asked for, though debug turns it off
    assert metrics["forecast"]["verdict"] in page.replace("&#x27;", "'")
    assert metrics["risk"]["verdict"] in page.replace("&#x27;", "'") and 'href="var.csv"' in page
    assert f"<h2>Trades ({len(trades)})</h2>" in page
    assert metrics["data"]["fingerprint"] in page and "synthetic:seed=42" in page


def test_costs_line_names_the_commission_rule_that_applies():
    from backtests.outputs.report import _commission_text

    assert _commission_text({"commission": 0.001, "commission_type": "fraction"}) == \
        "commission 0.001 of traded value"
    assert _commission_text({"commission": 0.001, "commission_type": "per_share", "per_share": 0.005,
                             "min_commission": 1.0}) == \
        "commission 0.005 per share (minimum 1.0 per order)"


def test_trade_returns_are_percentages_like_the_figures_beside_them(tmp_path):
    write_report(tmp_path / "report.html", _metrics(), _run_info(), _trades(1))
    page = (tmp_path / "report.html").read_text()
    assert "<th>pnl %</th>" in page and "<td>+1.50%</td>" in page and "0.0150" not in page


def test_plots_are_labelled_with_the_configured_forecaster(make_cfg, monkeypatch):
    from backtests.outputs import plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    experiment.run_experiment(make_cfg("forecaster=ridge", "report.plots=true"))
    labels = [text.get_text() for fig in figures for ax in fig.axes
              for text in (*(ax.get_legend().get_texts() if ax.get_legend() else ()), ax.xaxis.label)]
    assert len(figures) == 2 and any("Ridge" in label for label in labels)
    assert not [label for label in labels if "LSTM" in label]


def test_one_trade_is_one_trade(caplog):
    import logging

    metrics = _metrics()
    metrics["strategy"].update(trades=1, max_drawdown=-0.1)
    with caplog.at_level(logging.INFO):
        summarise(metrics, Path("."))
    assert "1 trade |" in caplog.text
