"""VaR backtests: exact answers on hand-made exceedance sequences, and var_backtests.csv recomputed
independently from var.csv."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecasting.risk.evaluation import (
    christoffersen_conditional,
    christoffersen_independence,
    kupiec,
    quantile_loss,
)
from tests.conftest import RISK_LSTM


def chi2_sf_1(lr: float) -> float:
    """Chi-square(1) survival function in closed form: erfc(sqrt(x / 2))."""
    return math.erfc(math.sqrt(lr / 2))


def chi2_sf_2(lr: float) -> float:
    """Chi-square(2) survival function in closed form: exp(-x / 2)."""
    return math.exp(-lr / 2)


def log_lik(count: int, prob: float) -> float:
    return 0.0 if count == 0 else count * math.log(prob)


def kupiec_by_hand(n: int, x: int, p: float) -> float:
    null = log_lik(n - x, 1 - p) + log_lik(x, p)
    alt = log_lik(n - x, 1 - x / n) + log_lik(x, x / n)
    return -2 * (null - alt)


def independence_by_hand(hits: list[int]) -> float:
    counts = {(i, j): 0 for i in (0, 1) for j in (0, 1)}
    for a, b in zip(hits[:-1], hits[1:]):
        counts[(a, b)] += 1
    n00, n01, n10, n11 = counts[(0, 0)], counts[(0, 1)], counts[(1, 0)], counts[(1, 1)]
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    null = log_lik(n00 + n10, 1 - pi) + log_lik(n01 + n11, pi)
    alt = log_lik(n00, 1 - pi01) + log_lik(n01, pi01) + log_lik(n10, 1 - pi11) + log_lik(n11, pi11)
    return -2 * (null - alt)


@pytest.mark.parametrize("n, x, p", [(100, 3, 0.01), (250, 0, 0.01), (500, 25, 0.05), (20, 20, 0.05)])
def test_kupiec_matches_the_closed_form(n, x, p):
    hits = np.zeros(n, dtype=bool)
    hits[:x] = True
    lr, pvalue = kupiec(hits, p)
    assert lr == pytest.approx(kupiec_by_hand(n, x, p), rel=1e-12)
    assert pvalue == pytest.approx(chi2_sf_1(kupiec_by_hand(n, x, p)), rel=1e-9)


def test_kupiec_at_the_expected_rate_is_one_and_zero_days_is_undefined():
    hits = np.zeros(100, dtype=bool)
    hits[10] = True
    assert kupiec(hits, 0.01) == (0.0, 1.0)
    assert all(math.isnan(v) for v in kupiec(np.zeros(0, dtype=bool), 0.01))


CLUSTERED = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1]


@pytest.mark.parametrize("hits", [CLUSTERED, [0, 0, 1, 0, 0, 0, 1, 0, 0, 0],
                                  [0] * 30 + [1],  # no transition out of an exceedance
                                  [0] * 40,        # no exceedance at all
                                  [1, 1, 1, 1]])   # nothing but exceedances
def test_christoffersen_matches_the_closed_form(hits):
    lr, pvalue = christoffersen_independence(np.array(hits, dtype=bool))
    expected = independence_by_hand(hits)
    assert lr == pytest.approx(max(expected, 0.0), abs=1e-12)
    assert pvalue == pytest.approx(chi2_sf_1(max(expected, 0.0)), rel=1e-9)
    lr_cc, p_cc = christoffersen_conditional(np.array(hits, dtype=bool), 0.05)
    total = kupiec_by_hand(len(hits), sum(hits), 0.05) + max(expected, 0.0)
    assert lr_cc == pytest.approx(total, rel=1e-12, abs=1e-12)
    assert p_cc == pytest.approx(chi2_sf_2(total), rel=1e-9)


def test_clustered_exceedances_fail_independence_and_spread_ones_do_not():
    # 4 exceedances in 200 days either spread out or in one run: the same Kupiec, opposite verdicts
    spread, run = np.zeros(200, dtype=bool), np.zeros(200, dtype=bool)
    spread[[20, 70, 120, 170]] = True
    run[100:104] = True
    assert christoffersen_independence(spread)[1] > 0.5
    assert christoffersen_independence(run)[1] < 0.001


def test_quantile_loss_by_hand():
    # VaR 0.02 -> quantile -0.02 at a = 0.01; realised -0.03 is an exceedance, 0.01 is not
    losses = quantile_loss(np.array([-0.03, 0.01]), np.array([0.02, 0.02]), 0.99)
    assert losses == pytest.approx([(0.01 - 1) * (-0.03 + 0.02), 0.01 * (0.01 + 0.02)])


def _independent_backtests(var: pd.DataFrame) -> pd.DataFrame:
    """var_backtests.csv rebuilt from var.csv with this file's own closed forms."""
    rows = []
    for method, part in var.dropna(subset=["realised"]).groupby("method", sort=False):
        r = part["realised"].to_numpy()
        for level in (0.95, 0.99):
            a, v = round(1 - level, 12), part[f"var_{round(level * 100)}"].to_numpy()
            hits = [int(x) for x in r < -v]
            q = -v
            lr_pof, lr_ind = kupiec_by_hand(len(r), sum(hits), a), max(independence_by_hand(hits), 0)
            rows.append({"method": method, "level": level, "days": len(r), "exceedances": sum(hits),
                         "kupiec_p": chi2_sf_1(lr_pof), "christoffersen_ind_p": chi2_sf_1(lr_ind),
                         "christoffersen_cc_p": chi2_sf_2(lr_pof + lr_ind),
                         "quantile_loss": float(np.mean([(a - (x < y)) * (x - y) for x, y in zip(r, q)]))})
    return pd.DataFrame(rows)


def test_var_backtests_csv_equals_an_independent_computation_from_var_csv(make_cfg, tmp_path):
    from backtests.modes.experiment import run_experiment

    run_experiment(make_cfg("forecaster=ridge", "report.plots=false", RISK_LSTM))
    var = pd.read_csv(tmp_path / "run" / "var.csv", parse_dates=["date"])
    assert list(var.columns[:8]) == ["date", "asset", "method", "var_95", "var_99", "es_95", "es_99",
                                     "realised"]
    assert set(var["method"]) == {"lstm", "historical", "ewma", "garch"}
    assert (var["es_99"] >= var["var_99"]).all() and (var["var_99"] > var["var_95"]).all()
    stored = pd.read_csv(tmp_path / "run" / "var_backtests.csv")
    mine = _independent_backtests(var)
    assert len(stored) == len(mine) == 8
    for column in ("days", "exceedances"):
        assert (stored[column].to_numpy() == mine[column].to_numpy()).all()
    for column in ("level", "kupiec_p", "christoffersen_ind_p", "christoffersen_cc_p", "quantile_loss"):
        assert stored[column].to_numpy() == pytest.approx(mine[column].to_numpy(), rel=1e-9, abs=1e-300)
    # the forecast days are the return forecasts' test days, method by method
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv", parse_dates=["date"])
    for _, part in var.groupby("method"):
        assert part["date"].tolist() == predictions["date"].tolist()
        assert part["realised"].to_numpy() == pytest.approx(predictions["actual"].to_numpy(), nan_ok=True)
