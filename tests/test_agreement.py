"""One run, one set of figures: report.html, tearsheet.html, metrics.json and returns.csv agree on
the test period and on every figure they share, and every tearsheet chart's dates lie in that period."""
from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest

from backtests.modes.experiment import run_experiment
from backtests.outputs.html import share
from backtests.outputs.report import pct
from backtests.outputs.tearsheet import write_tearsheet, yearly_returns

# QuantStats row label -> (metrics.json key, scale to QuantStats' unit)
SHARED = {"Cumulative Return": ("total_return", 100), "CAGR": ("cagr", 100),
          "Sharpe": ("sharpe", 1), "Sortino": ("sortino", 1), "Max Drawdown": ("max_drawdown", 100),
          "Volatility (ann.)": ("volatility", 100)}
DATE_LABEL = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from tests.conftest import CONF, FAST

    root = tmp_path_factory.mktemp("agree")
    overrides = [*FAST, "report.tearsheet=true"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, "data.bars=900", "forecaster=ridge",
                                           "strategy.entry=0.0", "strategy.exit=0.0"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(root / "run")
        cfg.paths.cache_dir = str(root / "cache")
        cfg.paths.results_dir = str(root / "results")  # its ledger too (conftest guards the checkout)
    run_experiment(cfg)
    folder = root / "run"
    returns = pd.read_csv(folder / "returns.csv", index_col="date", parse_dates=["date"])
    return folder, json.loads((folder / "metrics.json").read_text()), returns


def _tearsheet_table(page: str) -> dict[str, list[str]]:
    """QuantStats' metric rows: label -> cells (benchmark first, then the strategy)."""
    rows = {}
    for row in re.findall(r"<tr><td>(.*?)</td>((?:<td>.*?</td>)+)</tr>", page):
        rows.setdefault(html.unescape(row[0]), re.findall(r"<td>(.*?)</td>", row[1]))
    return rows


def _number(cell: str) -> float:
    return float(cell.replace("%", "").replace(",", ""))


def test_every_file_covers_the_same_test_period(run):
    folder, metrics, returns = run
    first, last = returns.index[0], returns.index[-1]
    period = metrics["test_period"]
    assert (period["start"], period["end"], period["days"]) == (
        str(first.date()), str(last.date()), len(returns))
    page = (folder / "tearsheet.html").read_text()
    shown = f"{first:%d %b, %Y} - {last:%d %b, %Y}"
    assert f"<dt>{shown}</dt>" in page  # QuantStats' own statement of the period it analysed
    report = (folder / "report.html").read_text()
    assert f"{first.date()} to {last.date()}" in report


def test_tearsheet_figures_equal_the_report_and_metrics(run):
    folder, metrics, returns = run
    table = _tearsheet_table((folder / "tearsheet.html").read_text())
    for label, (key, scale) in SHARED.items():
        for cell, side in zip(table[label], ("benchmark", "strategy")):
            assert _number(cell) == pytest.approx(scale * metrics[side][key], abs=0.006), (label, side)
    report = (folder / "report.html").read_text()
    shown = [share(metrics[side]["time_in_market"]) for side in ("strategy", "benchmark")]
    # One definition, one figure at one precision: the tearsheet shows metrics.json's time in
    # market exactly as report.html does (QuantStats' own would round up to a whole percent).
    assert table["Time in Market"] == shown[::-1]
    assert f"<td>Time in market</td><td>{shown[0]}</td><td>{shown[1]}</td>" in report
    for side in ("strategy", "benchmark"):
        assert pct(metrics[side]["total_return"]) in report


def test_tearsheet_shows_the_time_in_market_it_is_given(tmp_path):
    # A held day whose close did not move: QuantStats would count 3 of 4 days (rounded up, 75%).
    days = pd.bdate_range("2020-01-01", periods=8)
    strategy = pd.Series([0.01, 0.0, -0.02, 0.01, 0.0, 0.0, 0.015, -0.01], index=days)
    benchmark = pd.Series([0.01, 0.002, -0.02, 0.01, 0.003, -0.004, 0.015, -0.01], index=days)
    write_tearsheet(tmp_path / "t.html", strategy, benchmark, "T", time_in_market=(0.99952, 0.875))
    table = _tearsheet_table((tmp_path / "t.html").read_text())
    assert table["Time in Market"] == ["87.5%", "100.0%"] == [share(0.875), share(0.99952)]


def test_end_of_year_returns_carry_their_own_year(run):
    folder, _, returns = run
    page = (folder / "tearsheet.html").read_text()
    years = yearly_returns(returns["strategy"])
    bench = yearly_returns(returns["benchmark"])
    eoy = page[page.index("EOY Returns vs Benchmark</h3>"):]
    eoy = eoy[:eoy.index("</table>")]
    rows = re.findall(r"<tr><td>(\d{4})</td><td>([-\d.]+)</td><td>([-\d.]+)</td>", eoy)
    assert [int(year) for year, _, _ in rows] == list(years.index)
    for year, b, s in rows:
        assert float(s) == pytest.approx(100 * years[int(year)], abs=0.006)
        assert float(b) == pytest.approx(100 * bench[int(year)], abs=0.006)
    chart = next(svg for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S)
                 if "EOY Returns" in svg)
    labels = [t for t in re.findall(r"<text[^>]*>([^<]*)</text>", chart) if re.fullmatch(r"\d{4}", t)]
    assert labels == [str(year) for year in years.index]
    assert "\ufe6a" not in page  # the CAGR label's missing-glyph character


def test_every_chart_date_lies_in_the_test_period(run):
    folder, _, returns = run
    page = (folder / "tearsheet.html").read_text()
    first, last = returns.index[0], returns.index[-1]
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    margin = 0.06 * (last - first)
    dated = 0
    for chart in charts:
        for text in re.findall(r"<text[^>]*>([^<]*)</text>", chart):
            found = DATE_LABEL.match(text.strip())
            if not found:
                continue
            year, month, day = found.groups()
            # Time axes extend by matplotlib's 5% margin each side, so a tick may sit there.
            low = pd.Timestamp(first.year, first.month if month else 1, 1) - margin
            high = (last if day else pd.Timestamp(last.year, last.month if month else 12, 1)) + margin
            when = pd.Timestamp(int(year), int(month or 1), int(day or 1))
            assert low <= when <= high, (text, first.date(), last.date())
            dated += 1
    assert len(charts) >= 10 and dated > 40  # the time-axis charts were read, not skipped
