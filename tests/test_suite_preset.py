"""The test preset (conf/debug/test.yaml) leaves out only what its opt-ins put back.

Every test composes it (tests/conftest.py FAST); a test about the risk LSTM, GARCH, the plots or
the attributions opts in, and with every opt-in the configuration is the debug preset's, key for key.
"""
from __future__ import annotations

from omegaconf import OmegaConf

from tests.conftest import EXPLAIN, FAST, PLOTS, RISK_LSTM, SHIPPED


def test_tests_compose_the_test_preset_without_the_costly_parts(make_cfg):
    cfg = make_cfg()
    assert "debug=test" in FAST
    assert list(cfg.risk_model.methods) == ["historical", "ewma"] and cfg.risk_model.enabled
    assert cfg.report.plots is False and cfg.report.explain is False and cfg.report.tearsheet is False
    assert (cfg.forecaster.units, cfg.walkforward.initial_train, cfg.data.bars) == (4, 200, 420)


def test_the_opt_ins_give_back_exactly_the_debug_preset(make_cfg):
    assert set(SHIPPED) == {RISK_LSTM, PLOTS, EXPLAIN}
    shipped = make_cfg("debug=default")
    assert list(shipped.risk_model.methods) == ["lstm", "historical", "ewma", "garch"]
    opted_in = OmegaConf.to_container(make_cfg(*SHIPPED), resolve=True)
    assert opted_in == OmegaConf.to_container(shipped, resolve=True)
