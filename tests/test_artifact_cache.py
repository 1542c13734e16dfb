"""Slow artifacts are built once per content; a rerun copies them, a changed input builds anew."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import open_dict

from backtests.modes import experiment
from backtests.outputs import explanations
from backtests.outputs.artifact_cache import ArtifactCache, content_key
from backtests.stages import record
from tests.conftest import EXPLAIN, PLOTS


def test_key_follows_the_content_not_the_object():
    a = pd.Series([0.01, -0.02], index=pd.bdate_range("2020-01-01", periods=2), name="r")
    assert content_key("t.html", [a, "title"]) == content_key("t.html", [a.copy(), "title"])
    assert content_key("t.html", [a, "title"]) != content_key("t.html", [a * 2, "title"])
    assert content_key("t.html", [a, "title"]) != content_key("t.html", [a, "other"])
    assert content_key("t.html", [a]) != content_key("t.html", [a.rename("s")])
    assert content_key("t.html", [a]) != content_key("u.html", [a])


def test_a_file_is_built_once_then_copied(tmp_path):
    cache, built = ArtifactCache(tmp_path / "cache"), []

    def build(path):
        built.append(path)
        path.write_text("drawn")

    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
    assert not cache.file(tmp_path / "one" / "x.html", ["in"], build)
    assert cache.file(tmp_path / "two" / "x.html", ["in"], build)
    assert len(built) == 1 and (tmp_path / "two" / "x.html").read_text() == "drawn"


def test_a_rerun_draws_nothing_and_writes_the_same_files(make_cfg, monkeypatch, tmp_path):
    cfg = make_cfg("forecaster=ridge", "report.plots=true", "report.tearsheet=true")
    experiment.run_experiment(cfg)
    drawn = ("tearsheet.html", "forecast.png", "forecast_skill.png")
    first = {name: (tmp_path / "run" / name).read_bytes() for name in drawn}
    calls = []
    for name in ("write_tearsheet", "write_forecast_plot", "write_skill_plot"):
        monkeypatch.setattr(record, name, lambda *a, _n=name, **k: calls.append(_n))
    (tmp_path / "run" / "metrics.json").unlink()  # not a resumed run: a new one in the same place
    experiment.run_experiment(cfg)
    again = {name: (tmp_path / "run" / name).read_bytes() for name in drawn}
    assert calls == [] and again == first


def test_a_corrupt_value_is_named_in_a_warning_and_recomputed(tmp_path, caplog):
    cache, computed = ArtifactCache(tmp_path), []

    def compute():
        computed.append(1)
        return {"mse": 0.5}

    assert cache.value("scores", ["in"], compute) == {"mse": 0.5}
    stored = tmp_path / "artifacts" / f"{content_key('scores', ['in'])}.json"
    stored.write_text('{"mse": 0.')  # a damaged entry (e.g. written by hand or by another tool)
    with caplog.at_level("WARNING", logger="backtests.outputs.artifact_cache"):
        assert cache.value("scores", ["in"], compute) == {"mse": 0.5}
    assert len(computed) == 2 and str(stored) in caplog.text and "corrupt" in caplog.text
    assert json.loads(stored.read_text()) == {"mse": 0.5}  # repaired for the next run
    assert cache.value("scores", ["in"], compute) == {"mse": 0.5} and len(computed) == 2


def test_an_unexpected_error_reading_the_cache_is_not_swallowed(tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path)
    cache.value("scores", ["in"], lambda: {"mse": 0.5})

    read, refused = Path.read_text, []

    def refuse_once(self, *args, **kwargs):  # unreadable once, as a transient permission fault
        if not refused:
            refused.append(self)
            raise PermissionError(13, "Permission denied", str(self))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse_once)
    with pytest.raises(PermissionError):
        cache.value("scores", ["in"], lambda: {"mse": 0.0})


def test_a_rerun_with_another_strategy_redraws_only_what_depends_on_it(make_cfg, monkeypatch, tmp_path):
    """The risk and attribution figures and the skill plot do not depend on the strategy: reused."""
    cfg = make_cfg("forecaster=ridge", "report.tearsheet=true", PLOTS, EXPLAIN)
    experiment.run_experiment(cfg)
    kept = ("risk.png", "forecast_skill.png", *explanations.PLOTS)
    first = {name: (tmp_path / "run" / name).read_bytes() for name in kept}
    calls: list[str] = []
    for module, name in ((record, "write_tearsheet"), (record, "write_forecast_plot"),
                         (record, "write_skill_plot"), (record, "write_risk_plot"),
                         (explanations, "write_importance_plot"), (explanations, "write_lag_heatmap"),
                         (explanations, "write_drift_plot")):
        monkeypatch.setattr(module, name, lambda *a, _n=name, **k: calls.append(_n))
    other = make_cfg("forecaster=ridge", "report.tearsheet=true", PLOTS, EXPLAIN,
                     "strategy=lstm_long_short")
    with open_dict(other):
        other.paths.output_dir = str(tmp_path / "other")
    experiment.run_experiment(other)
    assert sorted(calls) == ["write_forecast_plot", "write_tearsheet"]  # the strategy's own
    assert {name: (tmp_path / "other" / name).read_bytes() for name in kept} == first
