"""Risk methods on a series whose risk is known, fits that see only the past, and the audit."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecasting.risk.walkforward import run_risk
from forecasting.windows import Windows
from tests.builders import build

SIGMA = 0.01


def constant_vol(n: int = 3000, seed: int = 0) -> Windows:
    """Normal returns with a 1% daily volatility; the windows hold the past 5 returns."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, SIGMA, n + 5)
    X = np.lib.stride_tricks.sliding_window_view(r[:-1], 5)[:n, :, None].astype(np.float32)
    y = r[5:n + 5].copy()
    y[-1] = np.nan  # the last bar's next return is unknown
    return Windows(X, y, pd.bdate_range("2005-01-03", periods=n))


def test_every_baseline_gets_a_constant_volatility_right():
    frame = run_risk(build("walkforward/default", initial_train=500, retrain_every=250),
                     build("risk_model/default", methods=["historical", "ewma", "garch"]).build(5),
                     constant_vol(), [0.95, 0.99], seed=0)
    known = frame.dropna(subset=["realised"])
    for method, part in known.groupby("method"):
        assert part["var_99"].mean() / SIGMA == pytest.approx(2.326, rel=0.08), method
        assert part["var_95"].mean() / SIGMA == pytest.approx(1.645, rel=0.08), method
        assert part["es_99"].mean() / SIGMA == pytest.approx(2.665, rel=0.12), method
        assert part["volatility"].mean() / SIGMA == pytest.approx(1.0, rel=0.06), method
        assert 0.004 < (part["realised"] < -part["var_99"]).mean() < 0.02, method
        assert 0.035 < (part["realised"] < -part["var_95"]).mean() < 0.07, method


def test_the_lstm_risk_head_learns_a_constant_volatility():
    settings = build("risk_model/default", methods=["lstm"], lstm_units=4, lstm_epochs=3)
    frame = run_risk(build("walkforward/default", initial_train=800, retrain_every=600), settings.build(5),
                     constant_vol(2000), [0.99], seed=1)
    known = frame.dropna(subset=["realised"])
    assert known["var_99"].mean() / SIGMA == pytest.approx(2.326, rel=0.15)
    assert 0.002 < (known["realised"] < -known["var_99"]).mean() < 0.025


def test_no_risk_forecast_changes_when_later_returns_do():
    """GARCH and the others are fit on the fold's training returns and filter only past ones."""
    original = constant_vol(1500)
    y = original.y.copy()
    y[1000:-1] *= 5  # a different, far more volatile future from sample 1000 on
    altered = Windows(original.X, y, original.index)
    cutoff = original.index[999]  # its forecast uses returns up to sample 998's target
    settings = build("risk_model/default", methods=["historical", "ewma", "garch"])
    walkforward = build("walkforward/default", initial_train=400, retrain_every=130)
    before = run_risk(walkforward, settings.build(5), original, [0.99], seed=0, until=cutoff)
    after = run_risk(walkforward, settings.build(5), altered, [0.99], seed=0, until=cutoff)
    columns = ["volatility", "var_99", "es_99"]
    early = before.index <= cutoff
    assert np.array_equal(before.loc[early, columns].to_numpy(), after.loc[early, columns].to_numpy())
    later = ~early  # the same fold's later days do see the new returns
    assert not np.allclose(before.loc[later, "var_99"], after.loc[later, "var_99"])


def test_unknown_risk_methods_and_levels_are_refused(make_cfg):
    from backtests.errors import UserError
    from backtests.pipeline.risk import risk_settings

    with pytest.raises(UserError, match="unknown risk method 'garh'"):
        risk_settings(make_cfg("risk_model.methods=[garh]"))
    with pytest.raises(UserError, match="level 99"):
        risk_settings(make_cfg("risk_model.levels=[99]"))
    assert risk_settings(make_cfg("risk_model.enabled=false")) is None


def test_audit_checks_the_risk_forecasts(make_cfg, tmp_path):
    from backtests.modes.audit import run_audit

    cfg = make_cfg("forecaster=ridge", "risk_model.methods=[historical,ewma,garch]")
    assert run_audit(cfg, cutoffs=1, atol=0.0) == 0.0
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    assert report["result"] == "PASS" and "risk forecasts" in report["checked"]


def test_audit_fails_on_a_risk_method_that_reads_its_test_fold(make_cfg, tmp_path):
    from backtests.modes.audit import run_audit

    cfg = make_cfg("forecaster=ridge", "risk_model.methods=[ewma,tests.leaky.FoldVolatility]")
    with pytest.raises(SystemExit) as info:
        run_audit(cfg, cutoffs=1, atol=0.0)
    assert info.value.code == 1
    report = json.loads((tmp_path / "run" / "audit.json").read_text())
    found = [f for f in report["findings"] if f["what"] == "risk forecasts"]
    assert report["result"] == "FAIL" and found
    assert [f["what"] for f in report["findings"]] == ["risk forecasts"]  # nothing else leaked
    assert found[0]["first_date"] <= found[0]["cutoff"]


def test_a_rerun_reuses_the_cached_risk_forecasts_bit_for_bit(make_cfg):
    from hydra.utils import instantiate

    from backtests.pipeline.risk import risk_settings, walk_forward_risk

    cfg = make_cfg("risk_model.methods=[historical,ewma,garch]")
    market, settings = instantiate(cfg.data).load(), risk_settings(cfg)
    assert settings is not None
    first = walk_forward_risk(cfg, market, settings)
    again = walk_forward_risk(cfg, market, settings)
    assert not first.cached and again.cached and first.key == again.key
    pd.testing.assert_frame_equal(first.frame, again.frame, check_exact=True, check_freq=False)
    # a change of the return forecaster alone keeps the key; a risk setting changes it
    assert walk_forward_risk(make_cfg("risk_model.methods=[historical,ewma,garch]",
                                      "forecaster.units=3"), market, settings).key == first.key
    other = make_cfg("risk_model.methods=[historical,ewma,garch]", "risk_model.hs_window=100")
    assert walk_forward_risk(other, market, risk_settings(other)).key != first.key


def _starve_the_optimiser(monkeypatch):
    """Make arch's optimiser stop after one iteration: a fit that does not converge."""
    from arch.univariate.base import ARCHModel

    original = ARCHModel.fit
    monkeypatch.setattr(ARCHModel, "fit", lambda self, *a, **k: original(
        self, *a, **{**k, "options": {"maxiter": 1}}))


def test_an_unconverged_garch_fit_is_never_used_silently(monkeypatch, caplog):
    from forecasting.risk.base import FIT_OK, FIT_PREVIOUS
    from forecasting.risk.baselines import GarchT

    windows = constant_vol()
    garch = GarchT().fit(windows[:1000])
    assert garch.fit_status == FIT_OK and garch.params is not None
    converged = garch.params.copy()
    _starve_the_optimiser(monkeypatch)
    with caplog.at_level("WARNING", logger="forecasting.risk.baselines"):
        garch.fit(windows[:1250], warm_start=True)
    assert garch.fit_status == FIT_PREVIOUS and "did not converge" in caplog.text
    pd.testing.assert_series_equal(garch.params, converged)  # the previous fold's, visibly


def test_unconverged_fits_are_counted_per_method_and_reported(monkeypatch, caplog, tmp_path):
    from backtests.outputs.sections.risk import risk_section
    from backtests.pipeline.risk import RiskRun, risk_results

    settings = build("risk_model/default", methods=["ewma", "garch"], levels=[0.99])
    walkforward = build("walkforward/default", initial_train=500, retrain_every=500)
    clean = run_risk(walkforward, settings.build(5), constant_vol(), [0.99], seed=0)
    assert set(clean["fit_status"]) == {0}
    _starve_the_optimiser(monkeypatch)
    with caplog.at_level("WARNING"):
        frame = run_risk(walkforward, settings.build(5), constant_vol(), [0.99], seed=0)
    folds = frame["fold"].nunique()
    garch = frame[frame["method"] == "garch"].groupby("fold")["fit_status"].first()
    assert folds >= 4 and list(garch) == [2] + [1] * (folds - 1)  # first: marked; later: previous
    assert f"garch: {folds} of {folds} fits failed or did not converge" in caplog.text
    _, _, block = risk_results(RiskRun(frame, settings, "k", cached=False), "SYN")
    assert block["fits"]["ewma"] == {"folds": folds, "not_converged": 0, "previous_parameters": [],
                                     "unconverged_used": []}
    assert block["fits"]["garch"] == {"folds": folds, "not_converged": folds,
                                      "previous_parameters": list(range(1, folds)),
                                      "unconverged_used": [0]}
    page = "".join(risk_section(json.loads(json.dumps(block, default=float)), tmp_path))
    assert f"garch: {folds} of {folds} fits failed or did not converge" in page
    assert "used the previous fold&#x27;s parameters" in page or "previous fold's parameters" in page


def test_ewma_seed_reads_no_return_after_the_first_test_day():
    """With fewer than 30 returns before the first test day, the recursion's seed must not read the
    returns that follow it (it once read the first 30 whatever the first test day)."""
    import numpy as np
    import pandas as pd

    from forecasting.risk.baselines import EWMA
    from forecasting.windows import Windows

    rng = np.random.default_rng(0)
    returns = rng.normal(0, 0.01, 60)
    test = Windows(np.zeros((41, 1, 1), np.float32), np.zeros(41), pd.bdate_range("2020-01-01", periods=41))
    before = EWMA().predict_risk(test, returns, [0.95])  # first test day: after 20 returns
    later = returns.copy()
    later[20:] *= 5.0  # returns from the first test day's own on
    after = EWMA().predict_risk(test, later, [0.95])
    assert before["volatility"].iloc[0] == after["volatility"].iloc[0]
