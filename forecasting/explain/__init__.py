"""Why the forecaster says what it says: attributions computed fold by fold inside the walk-forward.

Walk-forward models are not kept, so every attribution is made while the walk-forward still holds a
fold's model, on that fold's out-of-sample windows only (`FoldExplainer`, the per-fold callback of
`WalkForward.run`). Two methods, chosen because they fail differently:

- permutation importance (`permutation.py`): what the forecast loses when an input is shuffled;
  works for any forecaster through `predict`, and measures use for *prediction*;
- integrated gradients (`gradients.py`): how much each feature x lag moved each forecast away from
  the training-mean window; exact for a linear model, and what the network actually looks at.

`aggregate.py` weighs folds by size into the tables a run writes. No backtrader here.
"""
from forecasting.explain.aggregate import Explanation, FoldAttribution
from forecasting.explain.explainer import FoldExplainer

__all__ = ["Explanation", "FoldAttribution", "FoldExplainer"]
