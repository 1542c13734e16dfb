"""The trial ledger: every backtest on the record, deflated by every trial on the same data."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.ledger.deflate import deflate, make_trial, settings_hash, trial_settings
from backtests.ledger.record import ledger_figures
from backtests.ledger.store import SCHEMA_VERSION
from backtests.outputs.report import render_report
from backtests.sweeps.deflated_sharpe import deflated_sharpe
from tests.builders import build
from tests.conftest import FAST, ROOT, run_cli
from tests.test_report import _metrics, _run_info, _trades
from tests.test_sweep import sweep

DAYS = pd.bdate_range("2020-01-01", periods=300, name="date")


def _returns(seed: int, drift: float = 0.0003) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"strategy": rng.normal(drift, 0.01, len(DAYS)),
                         "benchmark": rng.normal(0.0004, 0.012, len(DAYS))}, index=DAYS)


def _trial(seed: int, settings: dict | None = None, dataset: str = "fp1"):
    config = settings or {"strategy": {"entry": seed}, "seed": 42}
    return make_trial(config, dataset, "SYN", _returns(seed, 0.0002 * seed), 1.0, "lstm_momentum")


def test_the_settings_hash_ignores_where_files_go(make_cfg):
    base = settings_hash(trial_settings(make_cfg()))
    elsewhere = make_cfg("paths.results_dir=/elsewhere", "ledger.path=/x/l.sqlite",
                         "report.tearsheet=true", "ledger.enabled=false")
    assert settings_hash(trial_settings(elsewhere)) == base
    assert settings_hash(trial_settings(make_cfg("strategy.entry=0.002"))) != base
    # Data settings are counted by the data fingerprint (the prices they give), not the hash.
    # (the same ticker: a synthetic market is labelled SYN, a CSV folder's default is MSFT)
    assert settings_hash(trial_settings(make_cfg("data=csv", "data.path=/a/b", "ticker=SYN"))) == base


def test_the_ticker_label_is_not_part_of_a_trial(make_cfg):
    msft = make_cfg("data=csv", "data.path=/prices/MSFT.csv")
    copy = make_cfg("data=csv", "data.path=/elsewhere/ACME.csv")  # renamed copy: same prices
    assert msft.ticker == "MSFT" and copy.ticker == "ACME"
    assert settings_hash(trial_settings(copy)) == settings_hash(trial_settings(msft))


def test_a_renamed_copy_of_the_same_prices_is_a_rerun_not_a_new_trial(tmp_path):
    from backtests.data.synthetic import synthetic_bars

    (tmp_path / "copy").mkdir()
    prices = synthetic_bars(420, seed=3)
    prices.to_csv(tmp_path / "MSFT.csv")
    prices.to_csv(tmp_path / "copy" / "ACME.csv")
    base = [o for o in FAST if not o.startswith("data")] + ["forecaster=ridge", "report.plots=false"]
    first = run_cli(*base, "data=csv", f"data.path={tmp_path / 'MSFT.csv'}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    again = run_cli(*base, "data=csv", f"data.path={tmp_path / 'copy' / 'ACME.csv'}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "a rerun of earlier settings, not a new trial" in again.stderr + again.stdout
    rows = build("ledger/default", path=tmp_path / "results" / "ledger.sqlite").trials()
    assert len(rows) == 1 and rows[0]["reruns"] == 1 and rows[0]["ticker"] == "MSFT"


def _old_ledger(path: Path, rows: list[tuple[str, str, int]]) -> None:
    """A ledger as the version before SCHEMA_VERSION 1 wrote it: the ticker in the settings hash."""
    from backtests.ledger.store import SCHEMA

    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        for number, (ticker, dataset, reruns) in enumerate(rows):
            settings = json.dumps({"seed": 42, "strategy": {"entry": 0.001}, "ticker": ticker},
                                  sort_keys=True)
            db.execute("INSERT INTO trials (recorded_at, last_run_at, reruns, dataset, ticker, "
                       "period_start, period_end, settings_hash, settings, observations, "
                       "excess_observations, run_dir) VALUES (?, ?, ?, ?, ?, '2020-01-01', "
                       "'2020-12-31', ?, ?, 250, 250, ?)",
                       (f"2026-01-0{number + 1}", f"2026-01-0{number + 1}", reruns, dataset, ticker,
                        settings_hash(json.loads(settings)), settings, f"run{number}"))
    db.close()


def test_an_older_ledger_is_migrated_and_its_double_counted_trials_merged(tmp_path):
    path = tmp_path / "ledger.sqlite"
    _old_ledger(path, [("MSFT", "fp1", 2), ("ACME", "fp1", 0), ("MSFT", "fp2", 0)])
    ledger = build("ledger/default", path=path)
    rows = sorted(ledger.trials(), key=lambda r: r["id"])
    assert [(r["ticker"], r["dataset"]) for r in rows] == [("MSFT", "fp1"), ("MSFT", "fp2")]
    assert rows[0]["reruns"] == 2 + 1 and rows[0]["run_dir"] == "run1"  # ACME's run is the latest
    assert "ticker" not in json.loads(rows[0]["settings"])
    expected = settings_hash({"seed": 42, "strategy": {"entry": 0.001}})
    assert rows[0]["settings_hash"] == rows[1]["settings_hash"] == expected
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
    assert len(build("ledger/default", path=path).trials()) == 2  # opening it again changes nothing


def test_ledger_deflation_is_the_sweep_arithmetic_over_every_trial(tmp_path):
    ledger = build("ledger/default", path=tmp_path / "ledger.sqlite")
    ids = [ledger.record(_trial(seed))[0] for seed in range(5)]
    assert ledger.record(_trial(2)) == (ids[2], False)  # identical settings: not a new trial
    ledger.record(_trial(9, dataset="other"))  # other data: another population
    population = ledger.trials("fp1", ("2020-01-01", str(DAYS[-1].date())))
    assert len(population) == 5 and population[0]["id"] == ids[2]  # the rerun is the most recent
    expected = deflated_sharpe({seed: _returns(seed, 0.0002 * seed)["strategy"] for seed in range(5)})
    for seed, row_id in enumerate(ids):
        figures = ledger_figures(ledger.path, row_id)
        assert figures["trials"] == 5
        assert figures["deflated_sharpe"] == pytest.approx(expected.loc[seed, "deflated_sharpe"], rel=1e-9)
        assert figures["psr"] == pytest.approx(expected.loc[seed, "psr"], rel=1e-9)
    assert ledger.trial(ids[2])["reruns"] == 1
    assert ledger.reset("fp1") == 5 and len(ledger.trials()) == 1


def _extended(sessions: int, cut: dict[str, str], seed: int = 1):
    """A trial on data ending at DAYS[sessions - 1] whose fingerprint cut at a date is cut[date]."""
    end = str(DAYS[sessions - 1].date())
    return make_trial({"strategy": {"entry": seed}, "seed": 42}, cut[end], "SYN",
                      _returns(seed).iloc[:sessions - 49], 1.0, "lstm_momentum", data_end=end)


def test_a_daily_extension_is_the_same_trial_not_a_new_one(tmp_path):
    ledger = build("ledger/default", path=tmp_path / "ledger.sqlite")
    grown = {str(d.date()): f"fp-{i}" for i, d in enumerate(DAYS)}  # data that only ever grew
    first, new = ledger.record(_extended(250, grown), grown.__getitem__)
    assert new
    assert ledger.record(_extended(251, grown), grown.__getitem__) == (first, False)  # one session
    assert ledger.record(_extended(251, grown), grown.__getitem__) == (first, False)  # rerun of it
    assert ledger.record(_extended(272, grown), grown.__getitem__) == (first, False)  # 21 more
    [row] = ledger.trials()
    assert (row["extensions"], row["reruns"], row["latest_data_end"]) == (2, 1, str(DAYS[271].date()))
    assert row["dataset"] == "fp-249" and row["latest_dataset"] == "fp-271"
    figures = ledger_figures(ledger.path, first)
    assert figures["trials"] == 1 and figures["extensions"] == 2
    # A revised history (the data up to the record's last date differ) is other data: a new trial;
    # so are other settings on the grown data.
    revised = {**grown, **{d: f"rev-{i}" for i, d in enumerate(grown) if i > 200}}
    assert ledger.record(_extended(280, revised), revised.__getitem__)[1]
    assert ledger.record(_extended(272, grown, seed=2), grown.__getitem__)[1]
    assert len(ledger.trials()) == 3


def test_a_version_2_ledger_gets_the_extension_columns(tmp_path):
    path = tmp_path / "ledger.sqlite"
    from backtests.ledger.store import ADDED, SCHEMA

    old = "\n".join(line for line in SCHEMA.splitlines()  # the table before version 3
                    if line.split()[:1] not in ([n] for n in ADDED))
    with sqlite3.connect(path) as db:
        db.executescript(old)
        assert "data_end" not in {r[1] for r in db.execute("PRAGMA table_info(trials)")}
        db.execute("PRAGMA user_version = 2")
    db.close()
    grown = {str(d.date()): f"fp-{i}" for i, d in enumerate(DAYS)}
    ledger = build("ledger/default", path=path)
    first, _ = ledger.record(_extended(250, grown), grown.__getitem__)
    assert ledger.record(_extended(251, grown), grown.__getitem__) == (first, False)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def _write_many(path: str, worker: int, count: int, barrier) -> None:
    ledger = build("ledger/default", path=path)
    barrier.wait()  # every writer starts at the same moment, on a ledger that does not exist yet
    for number in range(count):
        ledger.record(_trial(1000 * worker + number))


def test_concurrent_writers_lose_nothing(tmp_path):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(6)
    writers = [ctx.Process(target=_write_many, args=(str(tmp_path / "l.sqlite"), w, 15, barrier))
               for w in range(6)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
    assert [p.exitcode for p in writers] == [0] * 6
    trials = build("ledger/default", path=tmp_path / "l.sqlite").trials()
    assert len(trials) == 90 and len({t["settings_hash"] for t in trials}) == 90
    with sqlite3.connect(tmp_path / "l.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


KILLED_WRITER = """
import sys, time
from backtests.ledger.store import SCHEMA_VERSION, Ledger
from tests.builders import build
from tests.test_ledger import _trial
ledger = build("ledger/default", path=sys.argv[1])
with ledger._connect() as db:  # what record() does, stopped between the INSERT and the COMMIT
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO trials (recorded_at, last_run_at, dataset, ticker, period_start, "
               "period_end, settings_hash, settings) VALUES ('t', 't', 'fp1', 'SYN', 'a', 'b', "
               "'half', '{}')")
    print("inserted", flush=True)
    time.sleep(60)
"""


def test_a_killed_run_leaves_no_half_written_record(tmp_path):
    path = tmp_path / "l.sqlite"
    build("ledger/default", path=path).record(_trial(1))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "inserted"
    writer.send_signal(signal.SIGKILL)
    writer.wait(30)
    ledger = build("ledger/default", path=path)
    assert [t["settings_hash"] for t in ledger.trials()] == [_trial(1).settings_hash]
    assert ledger.record(_trial(2))[1]  # the dead writer's lock is gone
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_report_shows_the_run_against_every_trial(tmp_path):
    metrics = _metrics()
    metrics["trials"] = {"ledger": "/r/<b>ledger.sqlite", "id": 3, "new": False, "dataset": "abc123",
                         "ticker": "SYN", "period_start": "2018-01-02", "period_end": "2020-12-11",
                         "sweep": "2026-01-01_00-00", "trials": 12, "expected_max_sharpe": 0.05,
                         "deflated_sharpe": 0.314, "psr": 0.9, "excess_deflated_sharpe": 0.1,
                         "excess_psr": 0.4, "sweeps": 3, "first_recorded": "2026-01-01T08:05:03.123+00:00"}
    page = render_report(tmp_path, metrics, _run_info(), _trades())
    section = page[page.index("<h2>Trials on this data</h2>"):page.index("<h2>Forecast skill")]
    assert "<td>12</td>" in section and "0.314" in section and "0.900" in section
    assert "0.79" in section  # SR0 annualised: 0.05 * sqrt(252)
    assert 'href="../summary.html"' in section and "not counted again" in section
    assert "&lt;b&gt;ledger.sqlite" in section and "from 3 sweeps and single runs" in section
    assert "the first on 2026-01-01 08:05 UTC" in section
    metrics["trials"] = None
    assert "ledger.enabled=false" in render_report(tmp_path, metrics, _run_info(), _trades())


# --- two real sweeps on the same synthetic data --------------------------------------------------

FIRST, SECOND = "strategy.entry=0.0003,0.0008,0.0015", "strategy.entry=0.0008,0.002,0.004,0.006"


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two joblib sweeps on one synthetic market, the second repeating one setting of the first."""
    tmp = tmp_path_factory.mktemp("ledger")
    first, second = tmp / "first", tmp / "second"
    first.mkdir(), second.mkdir()
    for folder, values in ((first, FIRST), (second, SECOND)):
        done = sweep(folder, "hydra/launcher=joblib", values, f"paths.results_dir={tmp / 'results'}")
        assert done.returncode == 0, done.stderr[-3000:]
        (folder / "summary.csv").write_bytes((folder / "sweep" / "summary.csv").read_bytes())
    return tmp, first, second


@pytest.mark.slow  # two joblib sweeps of subprocesses (~20 s); the ledger's counts are unit-tested too
def test_two_sweeps_raise_the_ledger_count_and_lower_the_best_dsr(two_sweeps):
    tmp, first, second = two_sweeps
    before = pd.read_csv(first / "summary.csv").set_index("job")
    after = pd.read_csv(second / "summary.csv").set_index("job")
    assert (before["trials"] == 3).all() and (before["ledger_trials"] == 3).all()
    # One sweep alone on fresh data: the ledger's figures are the sweep's.
    assert np.allclose(before["ledger_deflated_sharpe"], before["deflated_sharpe"], rtol=1e-9)
    assert (after["trials"] == 4).all() and (after["ledger_trials"] == 3 + 3).all()  # 0.0008 again
    ledger = build("ledger/default", path=tmp / "results" / "ledger.sqlite")
    assert len(ledger.trials()) == 6  # every job of two parallel sweeps, nothing lost
    best = before["deflated_sharpe"].idxmax()
    block = json.loads((first / "sweep" / best / "trials.json").read_text())
    assert "trials" not in json.loads((first / "sweep" / best / "metrics.json").read_text())
    now = ledger_figures(block["ledger"], block["id"])
    assert now["trials"] == 6 and now["deflated_sharpe"] < before.loc[best, "ledger_deflated_sharpe"]
    assert now["deflated_sharpe"] == pytest.approx(
        deflate(ledger.trial(block["id"]), ledger.trials())["deflated_sharpe"])
    page = (second / "sweep" / "summary.html").read_text()
    assert "this sweep N = 4</b>" in page and "the ledger N = 6</b>" in page
    assert 'data-key="ledger_deflated_sharpe"' in page and 'data-key="ledger_trials"' in page


@pytest.mark.slow  # reads the two sweeps above
def test_mode_ledger_lists_the_trials_and_resets_them(two_sweeps):
    tmp = two_sweeps[0]
    data = [o for o in FAST if o.startswith("data")]
    listed = run_cli("mode=ledger", *data, "hydra.run.dir=listing", cwd=tmp)
    assert listed.returncode == 0, listed.stderr[-2000:]
    table = pd.read_csv(tmp / "listing" / "ledger.csv")
    assert len(table) == 6 and (table["trials"] == 6).all()
    assert list(table["last_run_at"]) == sorted(table["last_run_at"], reverse=True)
    assert (table["reruns"] == 1).sum() == 1  # entry 0.0008, run by both sweeps
    assert "6 distinct trials on SYN data" in listed.stderr + listed.stdout
    reset = run_cli("mode=ledger", *data, "mode.reset=true", "hydra.run.dir=reset", cwd=tmp)
    assert reset.returncode == 0 and "deleted 6 trials" in reset.stderr + reset.stdout
    assert build("ledger/default", path=tmp / "results" / "ledger.sqlite").trials() == []


def test_the_ledger_logger_and_mode_groups_instantiate(make_cfg, tmp_path):
    from hydra.utils import instantiate

    from backtests.tracking.mlflow_logger import MlflowLogger

    cfg = make_cfg()
    ledger = instantiate(cfg.ledger)
    assert ledger.enabled and ledger.path == (tmp_path / "results" / "ledger.sqlite").resolve()
    assert cfg.get("logger") is None  # tracking is opt-in
    logger = instantiate(make_cfg("logger=mlflow").logger)  # mlflow is not imported for this
    assert isinstance(logger, MlflowLogger)
    assert logger.tracking_uri == f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}"
    assert callable(instantiate(make_cfg("mode=ledger").mode))


def test_mode_ledger_of_a_universe_lists_and_resets_that_universes_trials_only(make_cfg, tmp_path):
    """The ledger mode reads a universe as its runs record it (every member's data), never the
    default ticker's: a reset deletes the universe's trials and leaves a single run's alone."""
    from backtests.modes.experiment import run_experiment
    from backtests.modes.ledger import run_ledger
    from tests.test_universe import universe_cfg, write_market

    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC"])
    single = make_cfg("data=csv", f"data.path={folder}", "ticker=AAA", "forecaster=ridge",
                      "risk_model.enabled=false", "data.quality.exchange=weekdays",
                      "data.quality.max_age=null", "data.start=null")
    run_experiment(single)
    (tmp_path / "run" / "metrics.json").unlink()
    universe = universe_cfg(make_cfg, folder, "forecaster=ridge", "universe.model=global",
                            "strategy=topk", "strategy.k=1")
    run_experiment(universe)
    store = build("ledger/default", path=tmp_path / "results" / "ledger.sqlite")
    assert len(store.trials()) == 2
    run_ledger(universe, reset=False)
    table = pd.read_csv(tmp_path / "run" / "ledger.csv")
    assert len(table) == 1 and table["strategy"].iloc[0] == "TopK"
    run_ledger(universe, reset=True)
    assert [t["ticker"] for t in store.trials()] == ["AAA"]  # the single run's trial is kept


def test_mode_inspect_of_a_universe_inspects_its_members(make_cfg, tmp_path):
    from backtests.modes.inspect import run_inspect
    from tests.test_universe import write_market

    folder = write_market(tmp_path / "prices", ["AAA", "BBB", "CCC", "DDD"])
    cfg = make_cfg("data=csv", f"data.path={folder}", "universe.tickers=[BBB,DDD]",
                   "data.quality.exchange=weekdays", "data.quality.max_age=null", "data.start=null",
                   "mode=inspect")
    run_inspect(cfg, start=None, end=None)
    table = pd.read_csv(tmp_path / "run" / "data_quality.csv")
    assert list(table["ticker"]) == ["BBB", "DDD"]


def test_a_universes_name_members_fan_out_and_attributions_are_no_part_of_a_trial(make_cfg):
    """The fingerprint holds every member's prices: the same files as a folder or as a list, on
    one process or two, on loky or a Dask cluster, explained or not, are one trial."""
    folder = make_cfg("universe=folder", "universe.n_jobs=1", "report.explain=false")
    listed = make_cfg("universe.tickers=[AAA,BBB,CCC]", "universe.n_jobs=2", "report.explain=true",
                      "explain.repeats=1", "universe.executor=dask",
                      "universe.dask.address=tcp://10.0.0.5:8786")
    assert trial_settings(folder) == trial_settings(listed)
    assert trial_settings(folder) != trial_settings(make_cfg("universe=folder", "universe.target=excess"))


def test_a_new_ledgers_journal_switch_is_retried_while_another_writer_holds_it(tmp_path):
    """Writers starting together on a new ledger: SQLite refuses the journal-mode switch at once
    ("database is locked") without waiting on its busy timeout; the ledger retries it."""
    import sqlite3

    class Busy:
        """A connection whose first two journal switches find the file locked."""

        def __init__(self) -> None:
            self.refusals, self.mode = 2, "delete"

        def execute(self, sql: str):
            if sql == "PRAGMA journal_mode":
                return _Row(self.mode)
            if self.refusals:
                self.refusals -= 1
                raise sqlite3.OperationalError("database is locked")
            self.mode = sql.rpartition("=")[2]
            return _Row(self.mode)

    class _Row:
        def __init__(self, value: str) -> None:
            self.value = value

        def fetchone(self):
            return (self.value,)

    db = Busy()
    build("ledger/default", path=tmp_path / "l.sqlite")._journal(db)
    assert db.mode == "wal" and db.refusals == 0
