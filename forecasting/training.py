"""The seeded training loop every network here shares: mini-batch epochs, early stopping, a guard.

A plain loop over `train_on_batch` costs a fraction of `model.fit`'s per-call set-up (data adapters,
callbacks, a separate validation pass), which dominates the small warm updates of a walk-forward.
Inputs are one array, or a list of arrays for a network with several inputs (the global model's
windows and ticker ids); they are sliced together.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecasting.tf_import import import_keras

Inputs = np.ndarray | Sequence[np.ndarray]


def _take(inputs: Inputs, rows: np.ndarray) -> Any:
    if isinstance(inputs, np.ndarray):
        return inputs[rows]
    return [part[rows] for part in inputs]


def _rows(inputs: Inputs) -> int:
    return len(inputs) if isinstance(inputs, np.ndarray) else len(inputs[0])


Criterion = Callable[[np.ndarray, np.ndarray], float]


def mse(predicted: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((predicted - target) ** 2))


def val_loss(model: Any, val: tuple[Inputs, np.ndarray] | None, criterion: Criterion = mse) -> float:
    """The early-stopping criterion on the held-out tail (inf without one): the network's own
    training loss, in numpy (mean squared error unless the network trains another loss)."""
    if val is None:
        return np.inf
    predicted = np.asarray(model.predict_on_batch(val[0])).reshape(-1)
    return criterion(predicted, val[1])


def one_trace(model: Any, X: Inputs, y: np.ndarray) -> None:
    """Have `model.train_on_batch` run one graph for every batch size: traced once, for any count.

    Keras traces its training step for the first batch's exact shape, then again when the last
    batch of an epoch is shorter, and the first trace runs twice since it makes the optimizer's
    variables (0.5 to 1 s each for this LSTM, its gradient through the time loop): three traces in
    every fit from scratch, where one, with the batch dimension unknown and the optimizer built
    before, does the same arithmetic for every batch (weights bit-identical, tests/test_training.py).
    The step is Keras' own `train_step`, handed to `train_on_batch` as its training function
    (`compile` resets it, so a recompiled model gets its own again).
    """
    import tensorflow as tf

    def spec(part: np.ndarray) -> Any:
        return tf.TensorSpec((None, *part.shape[1:]), tf.as_dtype(part.dtype))

    inputs = spec(X) if isinstance(X, np.ndarray) else [spec(part) for part in X]
    signature = [inputs, spec(y)]
    if getattr(model.train_function, "one_trace", None) == signature:
        return  # this model's step, for inputs of these shapes and types: traced already

    @tf.function(input_signature=signature, autograph=False)
    def step(x: Any, target: Any) -> Any:
        return model.train_step((x, target))

    def function(batches: Iterator[tuple[Any, Any, Any]]) -> Any:
        for x, target, _ in batches:  # train_on_batch's one batch (no sample weights here)
            outputs = step(x, target)
        return outputs

    function.one_trace = signature  # type: ignore[attr-defined]
    model.train_function = function
    if not model.optimizer.built:  # its slots made now: made inside the first call, they cost
        model.optimizer.build(model.trainable_variables)  # TensorFlow a second trace of it


def train_epochs(model: Any, X: Inputs, y: np.ndarray, epochs: int, batch_size: int,
                 val: tuple[Inputs, np.ndarray] | None, rng: np.random.Generator,
                 start_loss: float, patience: int, criterion: Criterion = mse) -> None:
    """Seeded mini-batch epochs with early stopping; the best weights (or the starting ones, if no
    epoch beat them: the warm-start guard) are kept."""
    one_trace(model, X, y)
    start_weights = model.get_weights() if np.isfinite(start_loss) else None
    best_loss, best_weights, waited = start_loss, start_weights, 0
    for _ in range(epochs):
        order = rng.permutation(_rows(X))
        for begin in range(0, len(order), batch_size):
            batch = order[begin:begin + batch_size]
            model.train_on_batch(_take(X, batch), y[batch])
        if val is None:
            continue
        loss = val_loss(model, val, criterion)
        if loss < best_loss:
            best_loss, best_weights, waited = loss, model.get_weights(), 0
        else:
            waited += 1
            if waited >= patience:
                break
    if best_weights is not None:
        model.set_weights(best_weights)


@dataclass(frozen=True)
class Schedule:
    """How a network trains: full epochs from scratch, a few warm ones after, early stopping."""

    epochs: int
    warm_epochs: int
    batch_size: int
    patience: int


def fit_network(model: Any, build: Callable[[], Any], X: Inputs, y: np.ndarray,
                val: tuple[Inputs, np.ndarray] | None, seed: int, resume: bool, schedule: Schedule,
                rng: np.random.Generator | None = None, criterion: Criterion = mse) -> Any:
    """The one fit of every network here (return LSTM, risk head, global model): the fitted model.

    A fresh fit (`resume` False) seeds Keras and builds a new model: bit-identical weights across
    runs and processes. Only a fresh model needs it: reseeding clears TensorFlow's function caches
    (~0.3 s a call), and a warm fold continues a sequence that is already deterministic (batches are
    shuffled by their own seeded rng). A warm fit continues `model` for `warm_epochs` and keeps its
    update only if it lowers the validation tail's loss (`start_loss`): repeated small updates
    otherwise drift into fitting noise.
    """
    if not resume:
        import_keras().utils.set_random_seed(seed)
        with _own_layer_seeds(seed):
            model = build()
    start_loss = val_loss(model, val, criterion) if resume and val is not None else np.inf
    train_epochs(model, X, y, schedule.warm_epochs if resume else schedule.epochs, schedule.batch_size,
                 val, np.random.default_rng(seed) if rng is None else rng, start_loss,
                 schedule.patience, criterion)
    return model


@contextmanager
def _own_layer_seeds(seed: int) -> Iterator[None]:
    """While a network is built, Keras draws each unseeded layer's seed from a private
    `random.Random(seed)`, the very stream `set_random_seed(seed)` gives Python's global one.

    Why: Keras draws them from the process-wide `random` module, and another thread drawing from it
    meanwhile (a Dask worker's event loop does) changed the initial weights, so the same fit gave
    other forecasts on a Dask worker than in a loky worker (issue 23).
    """
    from keras.src.random import seed_generator

    shared = seed_generator.python_random
    seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        seed_generator.python_random = shared


def newest_then_random(new: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of `size` samples: every new one (up to `size`), the rest drawn from the older.

    A warm fold's epoch over a capped sample: what is new since the previous fit, and a random
    reminder of the past, so a fold costs the same however long the history has grown.
    """
    fresh, older = np.flatnonzero(new), np.flatnonzero(~new)
    if len(fresh) >= size:
        return fresh[-size:]
    drawn = rng.choice(older, size - len(fresh), replace=False)
    return np.sort(np.concatenate([drawn, fresh]))
