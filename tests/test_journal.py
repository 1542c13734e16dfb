"""The forecast journal: a fortnight of evening runs, each writing its next-session forecast and
decision before the outcome exists; entries never rewritten; live scores from the journal alone."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from backtests.data.synthetic import synthetic_bars
from backtests.journal.scores import live_scores
from backtests.journal.store import ENTRIES, OUTCOMES
from backtests.modes.experiment import run_experiment
from backtests.modes.predict import run_predict
from backtests.stages.forecasts import forecast_stage
from backtests.stages.journal import entry_table, journal_of
from backtests.stages.lookahead import alter_after
from backtests.stages.markets import Markets, load_markets

FIRST, DAYS = 440, 10  # bars on the first evening; evenings (two weeks of sessions)
SHORT = 330  # the distribution forecaster's first evening: two folds of the test preset
CSV = ("data=csv", "data.start=null", "data.quality.exchange=weekdays", "data.quality.max_age=null")


def _journal(root: Path) -> Path:
    [folder] = [p.parent for p in (root / "journal").rglob(ENTRIES)]
    return folder


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow  # ten evenings of runs: .ci/run's slow step runs it
def test_a_fortnight_of_evening_runs(make_cfg, tmp_path):
    market = synthetic_bars(FIRST + DAYS, seed=7).rename_axis("Date")
    path = tmp_path / "SYN.csv"
    root = tmp_path / "results"
    written: list[bytes] = []
    for day in range(DAYS):
        market.iloc[: FIRST + day].to_csv(path)  # one more session each evening
        cfg = make_cfg(*CSV, f"data.path={path}")
        cfg.paths.output_dir = str(tmp_path / f"predict-{day}")  # each run its own folder
        # The evening run is mode=predict; on some evenings a backtest runs too (its entry is the
        # same close's: not written twice).
        run_predict(cfg)
        if day in (1, DAYS - 1):
            cfg.paths.output_dir = str(tmp_path / f"backtest-{day}")
            run_experiment(cfg)
        entries_path = _journal(root) / ENTRIES
        now = entries_path.read_bytes()
        assert all(now.startswith(before) for before in written)  # never rewritten
        written.append(now)
        entries = _read(entries_path)
        assert len(entries) == day + 1
        assert entries[-1]["as_of"] == str(market.index[FIRST + day - 1].date())
    folder = _journal(root)
    entries, outcomes = _read(folder / ENTRIES), _read(folder / OUTCOMES)
    # One entry per session, each made before any bar after its close was filled in.
    closes = [str(d.date()) for d in market.index[FIRST - 1:FIRST + DAYS - 1]]
    assert [e["as_of"] for e in entries] == closes
    for entry in entries:
        later = [o for o in outcomes if o["date"] > entry["as_of"]]
        assert all(o["recorded_at"] > entry["made_at"] for o in later)
    assert [o["date"] for o in outcomes] == closes[1:]
    # The live scores recompute from the journal's two files (and the backtest's returns) alone.
    last = tmp_path / f"backtest-{DAYS - 1}"
    live = json.loads((last / "live.json").read_text())
    returns = pd.read_csv(last / "returns.csv", index_col="date", parse_dates=["date"])
    again = live_scores(entries, outcomes, returns["strategy"])
    assert json.loads(json.dumps({**again, "journal": live["journal"]})) == live
    assert live["sessions"] == DAYS - 1 and live["forecast"]["n"] == DAYS - 1
    assert live["against_backtest"]["sessions"] == DAYS - 1
    page = (last / "report.html").read_text()
    assert f"live since {entries[0]['as_of']}: {DAYS - 1} sessions" in page
    assert page.count("live since") == 1  # the verdict's head is not said twice
    # The ledger counts the later evening's backtest as the same trial, extended.
    first, later = (json.loads((tmp_path / f"backtest-{d}" / "trials.json").read_text())
                    for d in (1, DAYS - 1))
    assert later["id"] == first["id"] and later["extension"] and not later["new"]
    assert later["trials"] == 1 and later["extensions"] == 1
    # Altering the data after an entry's close never changes that entry: the audit's view of what
    # an entry holds, replayed on a changed future, equals what was written.
    cutoff = pd.Timestamp(entries[3]["as_of"])
    cfg = make_cfg(*CSV, f"data.path={path}")
    loaded = load_markets(cfg)
    changed = Markets({"SYN": alter_after(loaded.market, cutoff, seed=99)})
    table = entry_table(changed, forecast_stage(cfg, changed, use_cache=False, until=cutoff))
    for entry in entries[:4]:
        [member] = entry["members"]
        row = table.loc[(pd.Timestamp(entry["as_of"]), "SYN")]
        # float32 network: the evening's run predicted its last fold on fewer windows, which sums
        # in another order (~1e-7 of the scaled output); the audit itself compares bit for bit.
        assert member["forecast"] == pytest.approx(row["forecast"], rel=1e-4, abs=1e-9)
        assert member["last_close"] == row["close"]


def test_a_distribution_forecasters_entries_hold_every_horizon(make_cfg, tmp_path):
    from tests.conftest import DISTRIBUTION

    market = synthetic_bars(SHORT + 1, seed=8).rename_axis("Date")
    path = tmp_path / "SYN.csv"
    for evening in range(2):
        market.iloc[: SHORT + evening].to_csv(path)
        cfg = make_cfg(*CSV, f"data.path={path}", *DISTRIBUTION, "strategy=lstm_probability")
        cfg.paths.output_dir = str(tmp_path / f"evening-{evening}")
        run_predict(cfg)
    entries = _read(_journal(tmp_path / "results") / ENTRIES)
    said = json.loads((tmp_path / "evening-0" / "forecast.json").read_text())
    [member] = entries[0]["members"]
    assert [h["h"] for h in member["horizons"]] == [row["horizon"] for row in said["distribution"]]
    for mine, theirs in zip(member["horizons"], said["distribution"], strict=True):
        assert mine["mean"] == pytest.approx(theirs["mean"], rel=1e-12)
        assert mine["p_up"] == pytest.approx(theirs["p_up"], rel=1e-9)
    live = json.loads((tmp_path / "evening-1" / "live.json").read_text())
    assert live["horizons"]["h1"]["n"] == 1 and "p_up_hit_rate" in live["horizons"]["h1"]
    # Changed settings start a new journal (another folder); the mode is not a setting.
    loaded = load_markets(cfg)
    other = make_cfg(*CSV, f"data.path={path}", *DISTRIBUTION, "strategy=lstm_probability",
                     "strategy.threshold=0.6")
    assert journal_of(other, loaded).folder != journal_of(cfg, loaded).folder
    backtest = make_cfg(*CSV, f"data.path={path}", *DISTRIBUTION, "strategy=lstm_probability",
                        "mode=backtest")
    assert journal_of(backtest, loaded).folder == journal_of(cfg, loaded).folder


def _append_many(folder: str, writer: int, count: int) -> None:
    from backtests.journal.store import Journal

    journal = Journal(folder, "SYN", "key", lock_timeout_s=60)
    for number in range(count):
        with journal.locked():
            journal.append(ENTRIES, [{"writer": writer, "number": number}])


def test_two_runs_never_write_one_journal_at_once(tmp_path):
    import multiprocessing as mp

    from backtests.errors import UserError
    from backtests.journal.lock import exclusive

    ctx = mp.get_context("spawn")
    writers = [ctx.Process(target=_append_many, args=(str(tmp_path), w, 25)) for w in range(4)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(120)
    assert [p.exitcode for p in writers] == [0] * 4
    lines = _read(tmp_path / "SYN" / "key" / ENTRIES)
    assert len(lines) == 100  # none lost to an interleaved write
    for writer in range(4):
        assert [r["number"] for r in lines if r["writer"] == writer] == list(range(25))
    lock = tmp_path / "SYN" / "key" / "journal.lock"
    with exclusive(lock, 1.0), pytest.raises(UserError, match="another run has held the lock"):
        with exclusive(lock, 0.2):
            pass
