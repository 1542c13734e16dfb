"""The universe audit: altering one ticker after a cutoff changes no forecast of any ticker up to it."""
from __future__ import annotations

import json

import pytest

from backtests.modes.audit import run_audit
from tests.test_universe import universe_cfg, write_market


@pytest.mark.parametrize("model", ["global", "per_ticker"])
def test_universe_audit_passes_on_the_shipped_features(make_cfg, tmp_path, model):
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = universe_cfg(make_cfg, folder, f"universe.model={model}",
                       *(["forecaster=ridge"] if model == "per_ticker" else []))
    assert run_audit(cfg, cutoffs=2, atol=0.0) == 0.0  # the global LSTM and its market input included
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "PASS" and report["altered"] == ["AAA", "BBB"]


def test_universe_audit_catches_a_leaky_market_input(make_cfg, tmp_path, caplog):
    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    cfg = universe_cfg(make_cfg, folder, "forecaster=ridge", "universe.model=global",
                       "universe.market_input._target_=tests.leaky.NextDayMarketReturn")
    with pytest.raises(SystemExit) as info:
        run_audit(cfg, cutoffs=1, atol=0.0)
    assert info.value.code == 1
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "FAIL"
    kinds = {f["what"] for f in report["findings"]}
    assert {"market inputs", "forecasts"} <= kinds
    forecasts = next(f for f in report["findings"] if f["what"] == "forecasts")
    # AAA was altered, and a ticker that was not altered has its forecast changed too
    assert forecasts["first_date"] <= forecasts["cutoff"]
    assert "audit FAIL" in caplog.text
