"""Show both attribution methods' rankings on a market with a planted signal (the README's table).

    python tests/benchmarks/planted_signal.py

The market is the known-answer test's (tests/test_explain.py): next return = 1.0 x `signal` at lag 3
+ 0.5 x `weak` at lag 1 + noise, with a pure-noise feature `noise`, 8-bar windows, 1000 samples,
walk-forward from 600 with refits every 200. Prints a Markdown table per forecaster.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.test_explain import explain, market  # noqa: E402


def main() -> None:
    for kind in ("ridge", "lstm"):
        found = explain(kind, market())
        features = found.importance()
        shares = features["integrated_gradients"] / features["integrated_gradients"].sum()
        by_gradient = features.assign(share=shares).sort_values("share", ascending=False)
        lags = found.lags().groupby("lag")["integrated_gradients"].sum()
        blocks = found.lag_blocks()
        print(f"\n{kind}\n")
        print("| rank | permutation: feature (MSE +%, ± s.e.) | integrated gradients: feature (share) "
              "| permutation: lag (MSE +%) | integrated gradients: lag (share) |")
        print("|---|---|---|---|---|")
        lag_perm = blocks.sort_values("permutation_mse_increase", ascending=False)
        lag_grad = (lags / lags.sum()).sort_values(ascending=False)
        for i in range(len(features)):
            p, g = features.iloc[i], by_gradient.iloc[i]
            lp, lg = lag_perm.iloc[i], lag_grad.index[i]
            print(f"| {i + 1} | {p.feature} ({p.permutation_mse_increase_pct:+.0f}%, "
                  f"± {100 * p.permutation_std / found.base_mse():.1f}) "
                  f"| {g.feature} ({g.share:.0%}) | lag {lp.lags} ({lp.permutation_mse_increase_pct:+.0f}%) "
                  f"| lag {lg} ({lag_grad.iloc[i]:.0%}) |")


if __name__ == "__main__":
    main()
