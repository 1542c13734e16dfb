"""The look-ahead audit passes on the shipped features and catches a leaky one."""
from __future__ import annotations

import json

import pytest

from backtests.modes.audit import run_audit
from tests.conftest import RISK_LSTM


def test_audit_passes_on_shipped_features(make_cfg, tmp_path):
    cfg = make_cfg("forecaster=ridge")
    assert run_audit(cfg, cutoffs=2, atol=0.0) == 0.0
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "PASS" and len(report["cutoffs"]) == 2


def test_audit_passes_with_the_lstm(make_cfg, tmp_path):
    cfg = make_cfg(RISK_LSTM)  # the return LSTM and the risk LSTM
    assert run_audit(cfg, cutoffs=1, atol=0.0) == 0.0  # bit-identical: seeded fits on identical past data


def test_audit_fails_on_a_centred_mean_and_names_the_date(make_cfg, tmp_path, caplog):
    cfg = make_cfg("forecaster=ridge", "+features.columns.leak._target_=tests.leaky.CenteredMean")
    with pytest.raises(SystemExit) as info:
        run_audit(cfg, cutoffs=2, atol=0.0)
    assert info.value.code == 1
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "FAIL"
    features = [f for f in report["findings"] if f["what"] == "features"]
    assert features and "leak" in features[0]["detail"]
    # a centred 5-day mean at t reads closes up to t+2: the first changed date is cutoff - 2 bars
    assert features[0]["first_date"] < features[0]["cutoff"]
    assert "audit FAIL" in caplog.text


def test_a_feature_that_needs_the_future_is_refused_up_front(make_cfg):
    from backtests.errors import UserError

    cfg = make_cfg("forecaster=ridge", "+features.columns.leak._target_=tests.leaky.CenteredMean",
                   "+features.columns.leak.min_periods=5")
    with pytest.raises(UserError, match="leak.*last bar.*look-ahead"):
        run_audit(cfg, cutoffs=1, atol=0.0)


def test_first_trade_difference_names_the_first_differing_or_extra_trade():
    import pandas as pd

    from backtests.stages.audit import first_trade_difference

    trades = pd.DataFrame({"exit_date": ["2020-01-03", "2020-02-03", "2020-03-03"], "pnl": [1.0, 2.0, 3.0]})
    assert first_trade_difference(trades, trades.copy()) is None
    assert first_trade_difference(trades, trades.iloc[:2]) == pd.Timestamp("2020-03-03")  # extra one
    changed = trades.copy()
    changed.loc[1, "pnl"] = 2.5
    assert first_trade_difference(trades, changed) == pd.Timestamp("2020-02-03")
