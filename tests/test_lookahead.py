"""The verdict both look-ahead audits share: the cutoffs, audit.json, and the PASS/FAIL exit."""
from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from backtests.stages.lookahead import Finding, cutoff_dates, verdict


def test_cutoffs_are_spread_evenly_inside_the_test_period():
    dates = pd.bdate_range("2020-01-01", periods=100)
    assert cutoff_dates(dates, 3) == [dates[25], dates[50], dates[75]]
    assert cutoff_dates(dates, 1) == [dates[50]]


def test_a_pass_writes_audit_json_and_returns_zero(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="backtests.stages.lookahead")
    cutoffs = [pd.Timestamp("2020-03-02")]
    assert verdict(tmp_path, [], cutoffs, ["forecasts"], {"tickers": ["A"]}, "forecasts",
                   "the data") == 0.0
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report == {"result": "PASS", "cutoffs": ["2020-03-02"], "checked": ["forecasts"],
                      "findings": [], "tickers": ["A"]}
    assert "audit PASS: forecasts up to 2020-03-02 are unchanged when the data after" in caplog.text


def test_a_fail_names_the_earliest_finding_and_exits_1(tmp_path, caplog):
    cutoffs = [pd.Timestamp("2020-03-02"), pd.Timestamp("2020-06-01")]
    findings = [Finding(cutoffs[1], "trades", None, "3 vs 4 closed"),
                Finding(cutoffs[1], "features", pd.Timestamp("2020-05-04"), "changed: rsi"),
                Finding(cutoffs[0], "forecasts", pd.Timestamp("2020-02-03"))]
    with pytest.raises(SystemExit) as info:
        verdict(tmp_path, findings, cutoffs, ["features", "forecasts", "trades"], {}, "", "")
    assert info.value.code == 1
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["result"] == "FAIL" and len(report["findings"]) == 3
    assert report["findings"][0]["first_date"] == "an unknown date"
    assert ("audit FAIL: forecasts on 2020-02-03 depend on data after 2020-03-02 (look-ahead)"
            in caplog.text)
