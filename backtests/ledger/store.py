"""The trial ledger: one row per distinct backtest ever run, in a SQLite file a user can query.

The deflated Sharpe of a sweep counts that sweep's trials only; a user who ran ten sweeps on the
same prices and kept the best made every one of their trials. The ledger remembers them all.

Why SQLite through the standard library: it is a real database (`sqlite3 results/ledger.sqlite
'select * from trials'`), each record is one INSERT in one transaction, so a killed process
leaves either the whole record or none, and concurrent writers (joblib workers, SLURM jobs on one
host) queue on SQLite's lock instead of overwriting each other (WAL journal, a busy timeout).
The unique key (dataset, test period, settings hash) makes an identical rerun update its row's
`reruns` count instead of adding a trial. The schema's version is SQLite's `user_version`: a ledger
written by an older version is migrated in place, once, the first time it is opened.
"""
from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from backtests.errors import UserError
from backtests.ledger.identity import rekeyed

log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 60.0  # a writer waits this long for another's transaction before giving up

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,        -- UTC, first time these settings ran on this data and period
    last_run_at TEXT NOT NULL,        -- UTC, latest rerun
    reruns INTEGER NOT NULL DEFAULT 0,
    dataset TEXT NOT NULL,            -- data fingerprint: a hash of every price and date
    ticker TEXT NOT NULL,             -- or the universe, comma-separated
    period_start TEXT NOT NULL,       -- the out-of-sample test period
    period_end TEXT NOT NULL,
    settings_hash TEXT NOT NULL,      -- every setting that affects results (not where files go)
    settings TEXT NOT NULL,           -- those settings as JSON
    strategy TEXT,
    sharpe REAL,                      -- annualised, as metrics.json
    sharpe_per_period REAL,           -- the moments a deflated Sharpe needs, of daily returns
    observations INTEGER,
    skew REAL,
    kurtosis REAL,
    excess_sharpe_per_period REAL,    -- the same of the daily excess over buy and hold
    excess_observations INTEGER,
    excess_skew REAL,
    excess_kurtosis REAL,
    sweep TEXT,                       -- the sweep folder's name, or NULL for a single run
    run_dir TEXT,
    git_commit TEXT,
    data_end TEXT,                    -- the data's last date (its fingerprint's)
    extensions INTEGER NOT NULL DEFAULT 0,  -- daily extensions: the same settings on data that grew
    latest_dataset TEXT,              -- the latest extension's data fingerprint, period end, data end
    latest_period_end TEXT,
    latest_data_end TEXT,
    UNIQUE (dataset, period_start, period_end, settings_hash)
);
CREATE INDEX IF NOT EXISTS trials_by_dataset ON trials (dataset, period_start, period_end);
"""


@dataclass(frozen=True)
class Trial:
    """One backtest as the ledger keeps it (the columns of `trials` a run supplies)."""

    dataset: str
    ticker: str
    period_start: str
    period_end: str
    settings_hash: str
    settings: str
    strategy: str | None
    sharpe: float | None
    sharpe_per_period: float | None
    observations: int
    skew: float | None
    kurtosis: float | None
    excess_sharpe_per_period: float | None
    excess_observations: int
    excess_skew: float | None
    excess_kurtosis: float | None
    sweep: str | None = None
    run_dir: str | None = None
    git_commit: str | None = None
    data_end: str | None = None


COLUMNS = [f.name for f in fields(Trial)]

# 1: the settings hash leaves out the ticker label (identity.py), so a renamed copy of the same
# prices is a rerun; older rows are re-keyed and the duplicates this reveals merged.
# 2: it also leaves out attributions and a universe's name, members, as-of date and fan-out.
# 3: a daily extension (the same settings on data that only grew) is the same trial: data_end,
# extensions and the latest extension's dataset, period end and data end.
SCHEMA_VERSION = 3
ADDED = {"data_end": "TEXT", "extensions": "INTEGER NOT NULL DEFAULT 0", "latest_dataset": "TEXT",
         "latest_period_end": "TEXT", "latest_data_end": "TEXT"}


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a ledger to SCHEMA_VERSION in one transaction (no-op when it is already there)."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:  # not another writer
            have = {row["name"] for row in db.execute("PRAGMA table_info(trials)")}
            for name, kind in ADDED.items():
                if name not in have:
                    db.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")
            merged = _rekey(db) if version < 2 else 0
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if merged:
                log.warning("ledger: %d trials recorded twice under another name or report setting "
                            "were merged into their first record (identity.py: what makes a trial)",
                            merged)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _rekey(db: sqlite3.Connection) -> int:
    """Re-key every row by today's settings hash; merge rows that now share a key into the first
    recorded (its reruns count the others, each once plus its own reruns). Returns how many merged."""
    groups: dict[tuple, list[dict]] = {}
    for row in db.execute("SELECT * FROM trials ORDER BY id"):
        settings, key = rekeyed(row["settings"])
        groups.setdefault((row["dataset"], row["period_start"], row["period_end"], key), []).append(
            {**dict(row), "new_settings": settings, "new_hash": key})
    merged = 0
    for rows in groups.values():
        first, others = rows[0], rows[1:]
        latest = max(rows, key=lambda r: r["last_run_at"])
        for other in others:  # first: their old keys must be free before the first takes its new one
            db.execute("DELETE FROM trials WHERE id = ?", (other["id"],))
        db.execute("UPDATE trials SET settings = ?, settings_hash = ?, reruns = ?, last_run_at = ?, "
                   "run_dir = ? WHERE id = ?",
                   (first["new_settings"], first["new_hash"],
                    sum(r["reruns"] for r in rows) + len(others), latest["last_run_at"],
                    latest["run_dir"], first["id"]))
        merged += len(others)
    return merged


def _extension(db: sqlite3.Connection, trial: Trial, prefix: Callable[[str], str],
               now: str) -> int | None:
    """The id of the record `trial` extends (updated in place), or None: not an extension."""
    if trial.data_end is None or db.execute(
            "SELECT 1 FROM trials WHERE dataset = ? AND period_start = ? AND period_end = ? AND "
            "settings_hash = ?", (trial.dataset, trial.period_start, trial.period_end,
                                  trial.settings_hash)).fetchone() is not None:
        return None  # an ordinary rerun (or no date to cut at)
    candidates = db.execute(
        "SELECT id, COALESCE(latest_dataset, dataset) AS known, "
        "COALESCE(latest_data_end, data_end) AS data_end FROM trials WHERE settings_hash = ? AND "
        "period_start = ? AND data_end IS NOT NULL AND COALESCE(latest_data_end, data_end) <= ? "
        "ORDER BY COALESCE(latest_data_end, data_end) DESC, id", (trial.settings_hash,
                                                                  trial.period_start, trial.data_end))
    for row in candidates.fetchall():
        if prefix(row["data_end"]) != row["known"]:
            continue  # other data (or a revised history): not this record's extension
        grew = row["data_end"] < trial.data_end
        db.execute("UPDATE trials SET extensions = extensions + ?, reruns = reruns + ?, "
                   "latest_dataset = ?, latest_period_end = ?, latest_data_end = ?, last_run_at = ?, "
                   "run_dir = ? WHERE id = ?",
                   (int(grew), int(not grew), trial.dataset, trial.period_end, trial.data_end, now,
                    trial.run_dir, row["id"]))
        return int(row["id"])
    return None


class Ledger:
    """The ledger file at `path` (config group `ledger`; `ledger.enabled=false` turns it off)."""

    def __init__(self, *, path: str | Path, enabled: bool, journal_mode: str) -> None:
        # No defaults here: conf/ledger/default.yaml holds them (backtests/settings/defaults.py).
        self.path = Path(path).resolve()
        self.enabled = bool(enabled)
        # WAL lets readers go on while one job writes; it needs one host's shared memory, so on a
        # network filesystem shared by cluster nodes use `ledger.journal_mode=delete`.
        self.journal_mode = str(journal_mode)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S,
                                         isolation_level=None)) as db:
                db.row_factory = sqlite3.Row
                self._journal(db)
                db.executescript(SCHEMA)  # IF NOT EXISTS: every writer may try, one creates
                _migrate(db)
                yield db
        except sqlite3.DatabaseError as exc:
            raise UserError(f"the trial ledger {self.path} cannot be used ({exc})",
                            "delete or move that file to start a new ledger, or set "
                            "ledger.enabled=false") from exc

    def _journal(self, db: sqlite3.Connection) -> None:
        """Set the journal mode unless the file has it already (WAL persists in the file).

        Switching a new file's mode needs a lock SQLite does not wait for (its busy timeout does not
        apply): writers starting together on a new ledger retry here until one has switched it.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                current = db.execute("PRAGMA journal_mode").fetchone()[0]
                if str(current).lower() != self.journal_mode.lower():
                    db.execute(f"PRAGMA journal_mode={self.journal_mode}")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02 + 0.08 * random.random())

    def record(self, trial: Trial, prefix: Callable[[str], str] | None = None) -> tuple[int, bool]:
        """Store `trial` in one transaction; return its row id and whether it is a new trial.

        `prefix(date)`: the fingerprint of this trial's data cut at `date`. With it, a trial whose
        settings and test start are on record with data this trial's data only extend (equal up to
        that record's last date, with sessions after it) is that record's daily extension: the
        record counts it (`extensions`, `latest_*`) and no new trial is added.
        """
        now = datetime.now(UTC).isoformat(timespec="microseconds")  # orders reruns
        values = asdict(trial)
        names = ", ".join(COLUMNS)
        marks = ", ".join(f":{c}" for c in COLUMNS)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock later
            try:
                extended = _extension(db, trial, prefix, now) if prefix is not None else None
                if extended is not None:
                    db.execute("COMMIT")
                    return extended, False
                cursor = db.execute(
                    f"INSERT INTO trials (recorded_at, last_run_at, {names}) "
                    f"VALUES (:now, :now, {marks}) "
                    "ON CONFLICT (dataset, period_start, period_end, settings_hash) DO UPDATE SET "
                    "reruns = reruns + 1, last_run_at = :now, run_dir = excluded.run_dir "
                    "RETURNING id, reruns", {**values, "now": now})
                row_id, reruns = cursor.fetchone()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return int(row_id), reruns == 0

    def trials(self, dataset: str | None = None, period: tuple[str, str] | None = None
               ) -> list[dict]:
        """The distinct trials, most recent first; on one dataset (and test period) if given."""
        where, args = [], []
        if dataset is not None:
            where.append("dataset = ?")
            args.append(dataset)
        if period is not None:
            where.append("period_start = ? AND period_end = ?")
            args += list(period)
        sql = ("SELECT * FROM trials" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY last_run_at DESC, id DESC")
        if not self.path.exists():
            return []
        with self._connect() as db:
            return [dict(row) for row in db.execute(sql, args)]

    def trial(self, row_id: int) -> dict | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM trials WHERE id = ?", (row_id,)).fetchone()
        return dict(row) if row is not None else None

    def reset(self, dataset: str) -> int:
        """Delete every trial on `dataset`; return how many. The count starts again from zero."""
        if not self.path.exists():
            return 0
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            deleted = db.execute("DELETE FROM trials WHERE dataset = ?", (dataset,)).rowcount
            db.execute("COMMIT")
        return int(deleted)
