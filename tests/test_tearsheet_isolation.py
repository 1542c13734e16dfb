"""Importing QuantStats for the tearsheet leaves the run's own figures as they were."""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import to_rgb
before = ({k: str(v) for k, v in plt.rcParams.items()}, to_rgb("k"), to_rgb("b"))
from backtests.outputs.tearsheet import _STYLE, quantstats
quantstats()
after = ({k: str(v) for k, v in plt.rcParams.items()}, to_rgb("k"), to_rgb("b"))
changed = [k for k in before[0] if before[0][k] != after[0][k]]
print(changed, before[1:] == after[1:], len(_STYLE) > 10)
"""


def test_quantstats_import_restyles_nothing_but_its_tearsheet():
    """QuantStats' import applies a seaborn theme (rcParams, one-letter colours) to the whole
    process; figures drawn after it came out other bytes than figures drawn before it."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    assert done.stdout.split("\n")[0] == "[] True True"
