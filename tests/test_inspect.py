"""mode=inspect, the report's data section, and the history check's message on a short file."""
from __future__ import annotations

import pandas as pd
import pytest

from backtests.errors import UserError
from backtests.modes.inspect import run_inspect
from backtests.outputs.sections.data import data_section
from backtests.pipeline.forecasts import build_windows
from tests.test_quality import walk


def test_inspect_writes_a_row_per_ticker_and_plots_the_flagged_ones(make_cfg, tmp_path):
    folder = tmp_path / "prices"
    folder.mkdir()
    clean, spiky = walk(), walk(seed=2)
    spiky.iloc[150, :5] *= 10
    clean.to_csv(folder / "AAA.csv")
    spiky.to_csv(folder / "BBB.csv")
    (folder / "CCC.csv").write_text("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,-1,1\n")
    cfg = make_cfg("data=csv", f"data.path={folder}", "mode=inspect", "data.quality.max_age=null")
    assert run_inspect(cfg, start=None, end=None) == 0.0
    table = pd.read_csv(tmp_path / "run" / "data_quality.csv").set_index("ticker")
    assert table.loc["AAA", "status"] == "clean" and table.loc["AAA", "bars"] == 300
    assert table.loc["BBB", "bad_ticks"] == 1 and str(spiky.index[150].date()) in table.loc["BBB", "findings"]
    assert table.loc["CCC", "status"] == "refused" and "positive" in table.loc["CCC", "findings"]
    page = (tmp_path / "run" / "data_quality.html").read_text()
    assert page.count("data:image/png;base64,") == 1 and 'id="BBB"' in page


def test_data_section_lists_repairs_and_findings_with_dates():
    data = {"dividend_adjusted": False, "repairs": {"duplicate_dates_dropped": 2},
            "repair_dates": {"duplicate_dates_dropped": ["2020-01-03", "2020-02-04"]},
            "quality": {"findings": [{"check": "bad_ticks", "kind": "spike that reverses",
                                      "count": 12, "action": "repair",
                                      "dates": [f"2020-03-{d:02d}" for d in range(1, 13)],
                                      "detail": "a <bad> tick", "done": "held"}],
                        "unscored_forecasts": ["2020-05-01"], "notes": []}}
    html = data_section(data)
    assert "2020-01-03</span>, <span style=\"white-space:nowrap\">2020-02-04" in html
    assert "not dividend-adjusted" in html
    assert "and 4 more" in html and "&lt;bad&gt;" in html and "2020-05-01" in html


def test_a_short_file_is_told_how_many_bars_it_needs(make_cfg, tmp_path):
    file = tmp_path / "SHORT.csv"
    walk(n=30).to_csv(file)
    cfg = make_cfg("data=csv", f"data.path={file}", "data.start=null", "data.quality.max_age=null",
                   fast=False)
    from hydra.utils import instantiate

    with pytest.raises(UserError) as info:
        build_windows(cfg, instantiate(cfg.data).load())
    assert "has 30 bars" in info.value.message and "needs at least" in info.value.message
    assert "look-ahead" not in info.value.message


def test_inspect_shows_zero_opens_as_a_finding_beside_the_other_checks(make_cfg, tmp_path):
    """Yahoo's early zero Opens used to refuse the whole file and hide every other check."""
    folder = tmp_path / "prices"
    folder.mkdir()
    old = walk()
    old.iloc[:40, old.columns.get_loc("Open")] = 0.0
    old.iloc[150, :5] *= 10
    old.to_csv(folder / "OLD.csv")
    cfg = make_cfg("data=csv", f"data.path={folder}", "mode=inspect", "data.quality.max_age=null")
    run_inspect(cfg, start=None, end=None)
    row = pd.read_csv(tmp_path / "run" / "data_quality.csv").set_index("ticker").loc["OLD"]
    assert row["status"] == "findings" and row["zero_opens"] == 40 and row["bad_ticks"] == 1
    assert f"Open of 0: 40 ({old.index[0].date()}" in row["findings"]


def test_old_files_are_said_old_once_and_not_counted_as_findings(make_cfg, tmp_path, caplog):
    folder = tmp_path / "prices"
    folder.mkdir()
    for seed, name in enumerate(["AAA", "BBB", "CCC"]):
        walk(seed=seed).to_csv(folder / f"{name}.csv")  # clean bars from 2012-2013
    run_inspect(make_cfg("data=csv", f"data.path={folder}", "mode=inspect"), start=None, end=None)
    table = pd.read_csv(tmp_path / "run" / "data_quality.csv")
    assert (table["status"] == "clean").all() and (table["stale"] == 0).all()
    said = [r.getMessage() for r in caplog.records if "last bar" in r.getMessage()]
    assert len(said) == 1 and "old in 3 of 3 tickers (AAA, BBB, CCC)" in said[0]
