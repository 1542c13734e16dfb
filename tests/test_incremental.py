"""Incremental walk-forward: a run on grown data reuses the earlier run's folds and equals a
from-scratch run on the same data byte for byte."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import open_dict

from backtests.data.synthetic import synthetic_bars
from backtests.modes.experiment import run_experiment
from backtests.pipeline.fold_memory import recall, remember
from forecasting.checkpoint import freeze, thaw_into
from forecasting.distribution.walkforward import run_distributions
from forecasting.incremental import Incremental
from forecasting.risk.walkforward import run_risk
from forecasting.windows import make_windows
from tests.builders import build
from tests.conftest import DISTRIBUTION, EXPLAIN, RISK_LSTM
from tests.test_universe import CSV as UNIVERSE_CSV

BARS = 420  # the test preset's folds: forecasts from bar 200, a new fold every 60 bars
STEPS = (1, 1, 21, 60)  # sessions appended before each rerun, as the acceptance test
OUTPUTS = ("predictions.csv", "var.csv", "trades.csv", "metrics.json")


def _write(bars, path: Path) -> Path:
    bars.to_csv(path, index_label="Date")
    return path


def _run(make_cfg, tmp_path: Path, csv: Path, out: str, cache: str, *overrides: str) -> Path:
    cfg = make_cfg("data=csv", f"data.path={csv}", "ticker=SYN", "data.start=2000-01-01",
                   *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / out)
        cfg.paths.cache_dir = str(tmp_path / cache)
    run_experiment(cfg)
    return tmp_path / out


def _extended_equals_scratch(make_cfg, tmp_path: Path, *overrides: str,
                            outputs: tuple[str, ...] = OUTPUTS) -> None:
    full = synthetic_bars(BARS, seed=3)
    start = BARS - sum(STEPS)
    csv = tmp_path / "SYN.csv"
    _write(full.iloc[:start], csv)
    _run(make_cfg, tmp_path, csv, "step0", "cache", *overrides)
    end = start
    for number, step in enumerate(STEPS, start=1):
        end += step
        _write(full.iloc[:end], csv)
        last = _run(make_cfg, tmp_path, csv, f"step{number}", "cache", *overrides)
    scratch = _run(make_cfg, tmp_path, csv, "scratch", "fresh-cache", *overrides)
    for name in outputs:
        assert (last / name).read_bytes() == (scratch / name).read_bytes(), name


def test_extending_the_data_step_by_step_equals_one_run_from_scratch(make_cfg, tmp_path):
    """Attributions too: a reused fold's are the earlier run's, a re-forecast fold's made again."""
    _extended_equals_scratch(make_cfg, tmp_path, "forecaster=ridge", "forecaster.window=10",
                             EXPLAIN, outputs=(*OUTPUTS, "importance.csv", "importance_folds.csv"))


@pytest.mark.slow  # six runs with networks (~60 s); the loop-level tests below cover each model
@pytest.mark.parametrize("forecaster", ["lstm_tiny", "lstm_dist"])
def test_a_network_run_extended_step_by_step_equals_one_run_from_scratch(make_cfg, tmp_path,
                                                                         forecaster):
    _extended_equals_scratch(make_cfg, tmp_path, f"forecaster={forecaster}", "forecaster.units=4",
                             "forecaster.epochs=2", "forecaster.window=10", RISK_LSTM)


# The loop itself, model by model: each kind's carried state (network weights, optimizer moments,
# dropout seeds, the distribution LSTM's last training date and its drawn reminder sample, GARCH's
# previous parameters) survives a run boundary, so every step equals the loop run once.
LOOP_BARS = 330


def _windows(bars: int):
    frame = synthetic_bars(LOOP_BARS, seed=5).iloc[:bars]
    features = build("features/default")(frame)
    windows = make_windows(features, frame["Close"], 10)
    return windows, frame.index.get_loc(windows.index[0])


def _stepwise(run, sizes=(LOOP_BARS - 50, LOOP_BARS - 49, LOOP_BARS - 30, LOOP_BARS)):
    """`run(windows, lead, incremental)` on growing data, each run handed the last one's memory
    through pickle (as through the disk); the last result and the counts of each run."""
    memory, counts = None, []
    for bars in sizes:
        windows, lead = _windows(bars)
        link = Incremental(pickle.loads(pickle.dumps(memory)) if memory is not None else None)
        result = run(windows, lead, link)
        memory = link.current
        counts.append(dict(link.counts))
    return result, counts


def _walkforward():
    return build("walkforward/default", initial_train=150, retrain_every=40)


@pytest.mark.slow  # ~40 s on 2 busy cores: five walk-forwards of a network with dropout
def test_the_distribution_lstm_resumes_bit_for_bit():
    make = lambda: build("forecaster/lstm_dist", window=10, units=4, epochs=2, warm_epochs=2,  # noqa: E731
                         batch_size=32, dropout=0.2, horizons=[1, 5], warm_samples=48)
    ridge = lambda: build("forecaster/ridge", window=10)  # noqa: E731
    run = lambda windows, lead, link: _walkforward().run(  # noqa: E731
        make(), windows, seed=3, baselines={"ridge": ridge()}, lead=lead, progress=False,
        incremental=link)
    stepped, counts = _stepwise(run)
    windows, lead = _windows(LOOP_BARS)
    scratch = run(windows, lead, None)
    pd.testing.assert_frame_equal(stepped, scratch, check_exact=True)
    assert counts[1] == {"reuse": 3, "predict": 1, "fit": 0}  # one new session: nothing trains
    assert counts[-1]["fit"] == 1 and counts[-1]["reuse"] == 3


@pytest.mark.slow  # every risk method, GARCH included, resumed step by step: .ci/run's slow step runs it
def test_every_risk_method_resumes_bit_for_bit():
    settings = build("risk_model/default", methods=["lstm", "historical", "ewma", "garch"],
                     lstm_units=4, lstm_epochs=2, lstm_warm_epochs=2)
    run = lambda windows, lead, link: run_risk(  # noqa: E731
        _walkforward(), settings.build(10), windows, settings.levels, seed=3, lead=lead,
        incremental=link)
    stepped, _ = _stepwise(run)
    windows, lead = _windows(LOOP_BARS)
    pd.testing.assert_frame_equal(stepped, run(windows, lead, None), check_exact=True)


def test_the_distribution_baselines_resume_bit_for_bit():
    methods = build("distribution/default").build()
    run = lambda windows, lead, link: run_distributions(  # noqa: E731
        _walkforward(), build("distribution/default").build(), windows, [1, 5], seed=3, lead=lead,
        incremental=link)
    assert methods
    stepped, _ = _stepwise(run)
    windows, lead = _windows(LOOP_BARS)
    pd.testing.assert_frame_equal(stepped, run(windows, lead, None), check_exact=True)


def test_a_restored_network_trains_on_exactly_as_the_original():
    """Weights, optimizer moments and step count, and the dropout's random stream all carry."""
    frame = synthetic_bars(260, seed=8)
    windows = make_windows(build("features/default")(frame), frame["Close"], 10)
    make = lambda: build("forecaster/lstm", window=10, units=4, epochs=2, warm_epochs=2,  # noqa: E731
                         batch_size=32, dropout=0.3, patience=0)
    original = make().fit(windows[:150], seed=1)
    restored = make()
    thaw_into(restored, freeze(original))
    for model in (original, restored):
        model.fit(windows[:200], seed=2, warm_start=True)
    np.testing.assert_array_equal(restored.predict(windows[200:]).to_numpy(),
                                  original.predict(windows[200:]).to_numpy())


def _ridge_run(frame: pd.DataFrame, link: Incremental | None) -> pd.DataFrame:
    windows = make_windows(build("features/default")(frame), frame["Close"], 10)
    lead = frame.index.get_loc(windows.index[0])
    return _walkforward().run(build("forecaster/ridge", window=10), windows, seed=3, lead=lead,
                              progress=False, incremental=link)


def _revised(change) -> tuple[pd.DataFrame, Incremental, pd.DataFrame]:
    """(the run on revised data after a run on the original, its link, a run from scratch)."""
    original = synthetic_bars(LOOP_BARS, seed=5)
    first = Incremental(None)
    _ridge_run(original, first)
    revised = change(original.copy())
    link = Incremental(pickle.loads(pickle.dumps(first.current)))
    return _ridge_run(revised, link), link, _ridge_run(revised, None)


def test_a_constant_readjustment_of_the_whole_history_retrains_nothing():
    def readjust(frame):  # a dividend: every earlier price scaled by one factor
        frame[["Open", "High", "Low", "Close"]] *= 0.9731
        return frame

    result, link, _ = _revised(readjust)
    assert link.counts == {"reuse": result["fold"].nunique(), "predict": 0, "fit": 0}


def test_a_corrected_bar_retrains_the_folds_that_read_it_and_says_why(caplog):
    bar = 240  # inside fold 2's test span (bars 230-269), so in the training windows after it

    def correct(frame):
        frame.iloc[bar, frame.columns.get_indexer(["Open", "High", "Low", "Close"])] *= 1.05
        return frame

    with caplog.at_level("INFO", logger="forecasting.incremental"):
        result, link, scratch = _revised(correct)
    assert link.counts == {"reuse": 2, "predict": 1, "fit": 2}
    assert "fold 2 forecasts again: its test windows were revised" in caplog.text
    assert "fold 3 and every later one trained again: its training windows were revised" in caplog.text
    pd.testing.assert_frame_equal(result, scratch, check_exact=True)


class _Unpicklable:
    """A plugin forecaster holding something pickle cannot store (a lambda)."""

    uses_validation = False

    def __init__(self) -> None:
        self.inner = build("forecaster/ridge", window=10)
        self.hook = lambda x: x

    def fit(self, train, seed, warm_start=False, validation=None):
        self.inner.fit(train, seed)
        return self

    def predict(self, windows):
        return self.inner.predict(windows)


def test_a_model_whose_state_cannot_be_saved_still_runs_and_leaves_no_memory(caplog):
    windows, lead = _windows(LOOP_BARS)
    link = Incremental(None)
    with caplog.at_level("WARNING", logger="forecasting.incremental"):
        made = _walkforward().run(_Unpicklable(), windows, seed=3, lead=lead, progress=False,
                                  incremental=link)
    assert len(made) and link.current is None
    assert "forecast's state cannot be saved" in caplog.text


def test_the_memory_on_disk_reads_states_lazily_and_is_ignored_when_incomplete(tmp_path, caplog):
    link = Incremental(None)
    made = _ridge_run(synthetic_bars(LOOP_BARS, seed=5), link)
    remember(tmp_path, "k", link)
    back = recall(tmp_path, "k")
    assert back.previous is not None and set(back.previous.folds) == set(made["fold"])
    record = back.previous.folds[0]
    assert record.states["forecast"] == link.current.folds[0].states["forecast"]
    states = sorted((tmp_path / "folds" / "states").iterdir())
    states[0].unlink()  # a state lost (a cleaned cache): the memory cannot resume every fold
    with caplog.at_level("WARNING", logger="backtests.pipeline.fold_memory"):
        assert recall(tmp_path, "k").previous is None
    assert "missing state" in caplog.text
    (tmp_path / "folds" / "k.pkl").write_bytes(b"not a pickle")
    assert recall(tmp_path, "k").previous is None


@pytest.mark.slow  # five runs of a universe: .ci/run's slow step runs it
def test_a_per_ticker_universe_extended_equals_one_run_from_scratch(make_cfg, tmp_path):
    """Each ticker's walk-forwards keep their own memory (universe.model=per_ticker, topk)."""
    tickers, bars = ["AAA", "BBB", "CCC"], 420
    frames = {t: synthetic_bars(bars, seed=100 + n).rename_axis("Date") for n, t in enumerate(tickers)}
    folder = tmp_path / "prices"
    folder.mkdir()

    def run(end: int, out: str, cache: str) -> Path:
        for ticker, frame in frames.items():
            frame.iloc[:end].to_csv(folder / f"{ticker}.csv")
        cfg = make_cfg(*UNIVERSE_CSV, f"data.path={folder}", "universe=folder", "universe.n_jobs=1",
                       "universe.model=per_ticker", "strategy=topk", "strategy.k=2", "forecaster=ridge",
                       "forecaster.window=10")
        with open_dict(cfg):
            cfg.paths.output_dir, cfg.paths.cache_dir = str(tmp_path / out), str(tmp_path / cache)
        run_experiment(cfg)
        return tmp_path / out

    for number, end in enumerate((bars - 22, bars - 21, bars)):
        last = run(end, f"step{number}", "cache")
    scratch = run(bars, "scratch", "fresh-cache")
    written = [name for name in OUTPUTS if (scratch / name).is_file()]
    assert "predictions.csv" in written and "trades.csv" in written
    for name in written:
        assert (last / name).read_bytes() == (scratch / name).read_bytes(), name


# The global panel model (universe.model=global): the same loop over a panel of tickers.
def _global_run(make_cfg, tmp_path: Path, frames: dict[str, pd.DataFrame], end: int, out: str,
                cache: str, *overrides: str) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir(exist_ok=True)
    for ticker, frame in frames.items():
        frame.iloc[:end].to_csv(folder / f"{ticker}.csv")
    cfg = make_cfg(*UNIVERSE_CSV, f"data.path={folder}", "universe=folder", "universe.n_jobs=1",
                   "universe.model=global", "strategy=topk", "strategy.k=2", *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir, cfg.paths.cache_dir = str(tmp_path / out), str(tmp_path / cache)
    run_experiment(cfg)
    return tmp_path / out


def _frames(tickers: list[str], bars: int) -> dict[str, pd.DataFrame]:
    return {t: synthetic_bars(bars, seed=100 + n).rename_axis("Date") for n, t in enumerate(tickers)}


@pytest.mark.slow  # six runs of a 5-ticker global LSTM (~2 min on 2 busy cores): .ci/run runs it
def test_a_global_universe_extended_step_by_step_equals_one_run_from_scratch(make_cfg, tmp_path,
                                                                             caplog):
    """The issue's acceptance: 5 tickers, the global LSTM, topk; steps of 1, 1, 21, 60 sessions."""
    frames = _frames(["AAA", "BBB", "CCC", "DDD", "EEE"], BARS)
    tiny = ("forecaster.units=4", "forecaster.epochs=2", "forecaster.warm_epochs=2",
            "universe.warm_samples=300", "universe.val_samples=40")
    end = BARS - sum(STEPS)
    _global_run(make_cfg, tmp_path, frames, end, "step0", "cache", *tiny)
    for number, step in enumerate(STEPS, start=1):
        end += step
        with caplog.at_level("INFO", logger="forecasting.walkforward"):
            caplog.clear()
            last = _global_run(make_cfg, tmp_path, frames, end, f"step{number}", "cache", *tiny)
        if step == 1:  # the last fold has room: its saved network forecasts the new session
            assert "incremental: 2 folds reused, 1 forecast by their saved models, 0 trained" \
                in caplog.text
    scratch = _global_run(make_cfg, tmp_path, frames, BARS, "scratch", "fresh-cache", *tiny)
    for name in OUTPUTS:
        assert (last / name).read_bytes() == (scratch / name).read_bytes(), name


def _panel(frames: dict[str, pd.DataFrame], bars: int):
    from forecasting.universe.panel import Panel

    windows = {}
    for ticker, frame in frames.items():
        part = frame.iloc[:bars]
        windows[ticker] = make_windows(build("features/default")(part), part["Close"], 10)
    return Panel.stack(windows, {t: f.iloc[:bars].index for t, f in frames.items()})


def _panel_stepwise(frames, sizes, make_model):
    from forecasting.universe.walkforward import run_panel

    memory, counts = None, []
    for bars in sizes:
        link = Incremental(pickle.loads(pickle.dumps(memory)) if memory is not None else None)
        result = run_panel(_walkforward(), make_model(), _panel(frames, bars), seed=3,
                           progress=False, incremental=link)
        memory = link.current
        counts.append(dict(link.counts))
    return result, counts


def _global_lstm():
    from forecasting.universe.models import GlobalLSTM

    return GlobalLSTM(window=10, units=4, layers=1, dropout=0.2, epochs=2, warm_epochs=2,
                      batch_size=64, learning_rate=0.01, patience=2, target="raw", embedding=2,
                      n_tickers=3, warm_samples=120, val_samples=40)


def test_the_global_lstm_resumes_bit_for_bit():
    """Weights, optimizer moments, dropout streams, the capped warm sample and validation draw
    and the keep-only-if-it-helps guard: each step equals the loop run once."""
    from forecasting.universe.walkforward import run_panel

    frames = _frames(["AAA", "BBB", "CCC"], LOOP_BARS)
    stepped, counts = _panel_stepwise(frames, (LOOP_BARS - 50, LOOP_BARS - 49, LOOP_BARS - 30,
                                               LOOP_BARS), _global_lstm)
    scratch = run_panel(_walkforward(), _global_lstm(), _panel(frames, LOOP_BARS), seed=3,
                        progress=False)
    pd.testing.assert_frame_equal(stepped, scratch, check_exact=True)
    assert counts[1] == {"reuse": 3, "predict": 1, "fit": 0}  # one new session: nothing trains
    assert counts[-1]["fit"] == 1 and counts[-1]["reuse"] == 3


def test_a_revised_ticker_in_the_panel_retrains_only_the_folds_that_read_it(caplog):
    """A constant re-adjustment of one ticker retrains nothing; a corrected bar retrains its fold."""
    from forecasting.universe.models import PanelRidge
    from forecasting.universe.walkforward import run_panel

    frames = _frames(["AAA", "BBB", "CCC"], LOOP_BARS)
    ridge = lambda: PanelRidge(window=10, alpha=1.0, target="raw")  # noqa: E731
    first = Incremental(None)
    run_panel(_walkforward(), ridge(), _panel(frames, LOOP_BARS), seed=3, progress=False,
              incremental=first)
    prices = ["Open", "High", "Low", "Close"]

    def rerun(changed, equal: bool):
        """The rerun's counts; `equal`: its forecasts are a from-scratch run's (a re-adjusted
        history gives forecasts equal but for rounding: the stored ones stand)."""
        link = Incremental(pickle.loads(pickle.dumps(first.current)))
        made = run_panel(_walkforward(), ridge(), _panel(changed, LOOP_BARS), seed=3,
                         progress=False, incremental=link)
        if equal:
            scratch = run_panel(_walkforward(), ridge(), _panel(changed, LOOP_BARS), seed=3,
                                progress=False)
            pd.testing.assert_frame_equal(made, scratch, check_exact=True)
        return link.counts

    readjusted = dict(frames)
    readjusted["BBB"] = frames["BBB"].copy()
    readjusted["BBB"][prices] *= 0.9731  # a dividend: every earlier price scaled by one factor
    assert rerun(readjusted, equal=False) == {"reuse": 5, "predict": 0, "fit": 0}
    corrected = dict(frames)
    corrected["BBB"] = frames["BBB"].copy()
    corrected["BBB"].iloc[240, corrected["BBB"].columns.get_indexer(prices)] *= 1.05
    with caplog.at_level("INFO", logger="forecasting.incremental"):
        counts = rerun(corrected, equal=True)
    assert counts == {"reuse": 2, "predict": 1, "fit": 2}
    assert "fold 3 and every later one trained again: BBB: its training windows were revised" \
        in caplog.text


@pytest.mark.slow  # four runs of a 3-ticker global distribution LSTM: .ci/run runs it
def test_a_global_universes_evening_update_refits_no_risk_fold(make_cfg, tmp_path, caplog):
    """With the global distribution model, one new session refits no fold of any ticker's GARCH or
    EWMA (their memory is keyed by their own settings, not by the global forecasts, which change
    with every ticker's data), the `lstm` rows are read afresh, and var.csv equals a run from
    scratch. Before, every evening refitted every risk fold of every ticker."""
    frames = _frames(["AAA", "BBB", "CCC"], BARS)
    settings = (*DISTRIBUTION, "universe.warm_samples=300", "universe.val_samples=40",
                "risk_model.enabled=true", "risk_model.methods=[lstm,ewma,garch]")
    _global_run(make_cfg, tmp_path, frames, BARS - 1, "evening0", "cache", *settings)
    with caplog.at_level("INFO", logger="forecasting.walkforward"):
        caplog.clear()
        last = _global_run(make_cfg, tmp_path, frames, BARS, "evening1", "cache", *settings)
    updates = [line for line in caplog.messages if "walk-forward: incremental: " in line]
    assert sum(line.startswith("risk walk-forward") for line in updates) == len(frames), updates
    assert len(updates) == 1 + len(frames), updates  # the global forecasts, each ticker's risk
    assert all(", 0 trained" in line for line in updates), updates
    scratch = _global_run(make_cfg, tmp_path, frames, BARS, "scratch", "fresh-cache", *settings)
    assert (last / "var.csv").read_bytes() == (scratch / "var.csv").read_bytes()

