"""The test preset (conf/debug/test.yaml) leaves out only what its opt-ins put back.

Every test composes it (tests/conftest.py FAST): the debug preset less GARCH. A test about the risk
LSTM, GARCH, the plots or the attributions opts in, and each opt-in gives that part exactly as the
shipped configuration has it.
"""
from __future__ import annotations

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tests.conftest import CONF, EXPLAIN, FAST, PLOTS, RISK_LSTM, SHIPPED


def test_tests_compose_the_test_preset_without_the_costly_parts(make_cfg):
    cfg = make_cfg()
    assert "debug=test" in FAST
    assert list(cfg.risk_model.methods) == ["historical", "ewma"] and cfg.risk_model.enabled
    assert cfg.report.plots is False and cfg.report.explain is False and cfg.report.tearsheet is False
    assert (cfg.forecaster.units, cfg.walkforward.initial_train, cfg.data.bars) == (4, 200, 420)


def test_the_test_preset_is_the_debug_preset_less_garch(make_cfg):
    debug = OmegaConf.to_container(make_cfg("debug=default"), resolve=True)
    test = OmegaConf.to_container(make_cfg("risk_model.methods=[historical,ewma,garch]", "workers=1"),
                                  resolve=True)
    assert test == debug  # and workers=0: a test works in its own process (test_background.py)


def test_the_opt_ins_put_back_the_shipped_settings(make_cfg):
    assert set(SHIPPED) == {RISK_LSTM, PLOTS, EXPLAIN}
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        shipped = compose("config", overrides=["data=synthetic"])  # no preset at all
    opted = make_cfg(*SHIPPED)
    assert list(opted.risk_model.methods) == list(shipped.risk_model.methods)
    assert opted.report.plots == shipped.report.plots and opted.report.explain == shipped.report.explain
