"""The shared training loop: one traced step for every batch size, the same weights as Keras' own."""
from __future__ import annotations

import numpy as np

from forecasting.network import build_distribution_lstm, build_global_lstm
from forecasting.tf_import import import_keras
from forecasting.training import Schedule, fit_network


def _data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 6, 3)).astype(np.float32)
    y = np.column_stack([X[:, -1, 0] * 0.3, rng.standard_normal(rows)]).astype(np.float32)
    y[-2:, 1] = np.nan  # a purged longer-horizon target, as the distribution network trains with
    return X, y


def _fit(X: np.ndarray, y: np.ndarray, plain: bool) -> tuple[list[np.ndarray], object]:
    """Fit from scratch with the shipped loop, or (`plain`) with Keras' own training function."""
    from forecasting import training

    def build() -> object:
        return build_distribution_lstm(6, 3, [1, 2], units=4)[0]

    saved = training.one_trace
    if plain:  # the loop leaves train_on_batch to Keras: its own step, traced per batch shape
        training.one_trace = lambda *args: None  # type: ignore[assignment]
    try:
        model = fit_network(None, build, X, y, None, seed=3, resume=False,
                            schedule=Schedule(epochs=2, warm_epochs=1, batch_size=32, patience=0))
    finally:
        training.one_trace = saved
    return model.get_weights(), model


def _traces(model: object) -> list[int]:
    step = model.train_function  # type: ignore[attr-defined]
    assert getattr(step, "one_trace", None)
    return [cell.cell_contents.experimental_get_tracing_count() for cell in step.__closure__
            if hasattr(cell.cell_contents, "experimental_get_tracing_count")]


def test_one_traced_step_trains_the_same_weights_as_keras_own_on_batches_of_two_sizes():
    X, y = _data(70)  # batches of 32, 32 and 6: two shapes
    ours, model = _fit(X, y, plain=False)
    theirs, _ = _fit(X, y, plain=True)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    assert _traces(model) == [1]


def test_a_network_with_two_inputs_trains_through_one_trace():
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = build_global_lstm(6, 3, n_tickers=4, embedding=2, units=4)
    X, y = _data(40)
    ids = np.arange(40, dtype=np.int32) % 4
    fit_network(model, lambda: model, [X, ids.reshape(-1, 1)], y[:, 0], None, seed=1, resume=True,
                schedule=Schedule(epochs=1, warm_epochs=2, batch_size=16, patience=0))
    assert _traces(model) == [1]


def test_inputs_of_another_type_get_a_step_of_their_own_instead_of_an_error():
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model, _ = build_distribution_lstm(6, 3, [1, 2], units=4)
    X, y = _data(40)
    schedule = Schedule(epochs=1, warm_epochs=1, batch_size=16, patience=0)
    fit_network(model, lambda: model, X, y, None, seed=1, resume=True, schedule=schedule)
    fit_network(model, lambda: model, X, y.astype(np.float64), None, seed=1, resume=True,
                schedule=schedule)
    assert _traces(model) == [1]
