"""The docs' worked example of a plugged-in forecaster and feature is the code that runs.

The code block of docs/plugins.md must be tests/plugins_example.py word for word, its YAML blocks
become the config files of a real `python run.py` (the page's first command, with the test's data
and folders), and the forecasts that run writes must be what the example forecaster computes by hand.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, run_cli

PAGE = ROOT / "docs" / "plugins.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_the_docs_quote_the_example_word_for_word():
    assert _blocks("python") == [(ROOT / "tests" / "plugins_example.py").read_text()]


@pytest.fixture(scope="module")
def plugged(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugins")
    for block in _blocks("yaml"):  # each starts with `# <group>/<option>.yaml`
        relative = block.splitlines()[0].removeprefix("# ").split(":")[0]
        (root / "conf" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "conf" / relative).write_text(block)
    command = _blocks("bash")[0].splitlines()[0].split()
    assert command[:2] == ["python", "run.py"]
    done = run_cli(*command[2:], "data.bars=420", f"hydra.searchpath=[file://{root / 'conf'}]",
                   f"hydra.run.dir={root / 'run'}", f"paths.cache_dir={root / 'cache'}", cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "run"


def test_the_example_runs_as_the_configured_forecaster_and_feature(plugged):
    config = json.loads((plugged / "run_info.json").read_text())["config"]
    assert config["forecaster"]["_target_"] == "tests.plugins_example.MeanReturnForecaster"
    assert config["features"]["columns"]["gap"] == {"_target_": "tests.plugins_example.OvernightGap"}
    assert list(config["features"]["columns"])[0] == "log_return"  # the column the example reads
    metrics = json.loads((plugged / "metrics.json").read_text())
    assert metrics["forecast"]["samples"] > 100


def test_its_forecasts_are_the_mean_of_the_last_five_returns(plugged):
    from backtests.data.synthetic import synthetic_bars

    close = synthetic_bars(420, seed=42)["Close"]
    by_hand = np.log(close).diff().rolling(5).mean()
    forecasts = pd.read_csv(plugged / "predictions.csv", index_col="date", parse_dates=True)
    assert len(forecasts) > 100
    np.testing.assert_allclose(forecasts["forecast"], by_hand.reindex(forecasts.index), atol=1e-7)
