"""Faults: killed runs, processes racing on one cache, and downloads that fail or come back short.

Real processes run `run.py` on the tiny synthetic config, are killed with SIGKILL at several points,
and a rerun must give byte-identical predictions.csv and metrics.json to an uninterrupted run.
"""
from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.data import yahoo
from backtests.pipeline.forecast_cache import ForecastCache
from tests.builders import source
from tests.conftest import FAST, ROOT

SHRINK = [*FAST, "report.plots=false"]
COMPARED = ("predictions.csv", "metrics.json", "returns.csv", "trades.csv")


def _env() -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def start(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), *SHRINK, *args], cwd=cwd,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def kill_after(proc: subprocess.Popen, trigger: str, delay: float) -> str:
    """SIGKILL `proc` `delay` seconds after a log line containing `trigger`; return its output."""
    seen = []
    for line in proc.stdout:  # Hydra's console log handler flushes every line
        seen.append(line)
        if trigger in line:
            break
    else:
        pytest.fail(f"the run ended before {trigger!r}:\n{''.join(seen)[-2000:]}")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode in (-signal.SIGKILL, 0)  # 0: it finished first (a fast machine)
    return "".join(seen) + rest


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    return out


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_results(folder: Path, reference: Path) -> None:
    for name in COMPARED:
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name


def assert_cache_sound(cache: Path) -> None:
    """Every sealed forecast entry loads whole; anything else is only a hidden temporary file."""
    folder = cache / "forecasts"
    for note in folder.glob("*.json"):
        assert ForecastCache(cache).load(note.stem) is not None, note
    for path in folder.glob("*") if folder.exists() else []:
        assert path.suffix in (".csv", ".json") or ".tmp-" in path.name, path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run, in a results folder later runs share."""
    root = tmp_path_factory.mktemp("faults")
    out = finish(start(root, f"paths.results_dir={root / 'results'}",
                       f"paths.cache_dir={root / 'reference-cache'}"))
    folder = Path(out.split("results in ")[-1].split()[0])
    assert (folder / "metrics.json").exists() and folder.is_relative_to(root / "results" / "runs")
    return root, folder, snapshot(folder)


@pytest.mark.slow  # three runs killed on purpose, then a fourth; kills are also checked in the default run
def test_runs_killed_at_several_points_then_a_rerun_gives_the_same_results(reference):
    root, expected, _ = reference
    cache = root / "killed-cache"
    points = [("load prices ...", 0.0),              # before any file is written
              ("forecasts ...", 1.5),               # importing TensorFlow or training
              ("record ...", 0.3)]                   # forecasts cached, plots half-written
    killed = []
    for number, (trigger, delay) in enumerate(points):
        folder = root / f"killed-{number}"
        proc = start(root, f"hydra.run.dir={folder}", f"paths.cache_dir={cache}", "report.plots=true")
        kill_after(proc, trigger, delay)
        killed.append(proc.returncode == -signal.SIGKILL)
        # metrics.json is written last: a folder without it is unfinished, one with it is whole
        # (the kill can land after the last write, while the process is exiting).
        if (folder / "metrics.json").exists():
            assert_same_results(folder, expected)
        assert not [p for p in folder.glob("*") if ".tmp-" in p.name and not p.name.startswith(".")]
        assert_cache_sound(cache)
    assert killed[0] and killed[1], killed  # the early kills cannot miss
    out = finish(start(root, f"hydra.run.dir={root / 'rerun'}", f"paths.cache_dir={cache}"))
    assert "reusing cached walk-forward forecasts" in out  # what the killed run sealed is whole
    assert_same_results(root / "rerun", expected)


@pytest.mark.slow  # processes racing on one cache: a stress check, ~20 s
def test_concurrent_runs_on_one_cache_agree_and_leave_earlier_runs_alone(reference):
    root, expected, before = reference
    cache = root / "shared-cache"
    runs = [start(root, f"paths.results_dir={root / 'results'}", f"paths.cache_dir={cache}")
            for _ in range(2)]
    folders = [Path(finish(p).split("results in ")[-1].split()[0]) for p in runs]
    assert len(set(folders) | {expected}) == 3  # each run its own folder
    for folder in folders:
        assert_same_results(folder, expected)
    assert_cache_sound(cache)
    assert snapshot(expected) == before  # the earlier run's folder is untouched, .hydra included


STRESS = textwrap.dedent("""
    import logging, sys
    import numpy as np, pandas as pd
    from backtests.data import yahoo
    from backtests.pipeline.forecast_cache import ForecastCache
    from tests.builders import source

    cache_dir, rounds = sys.argv[1], int(sys.argv[2])
    index = pd.bdate_range("2015-01-01", periods=3000, name="Date")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.01, len(index))))
    answer = pd.DataFrame({"Open": close, "High": close * 1.01, "Low": close * 0.99,
                           "Close": close, "Volume": 1e6}, index=index)
    yahoo._download = lambda ticker: answer.copy()
    complaints = []
    handler = logging.Handler()
    handler.emit = lambda record: complaints.append(record.getMessage())
    logging.getLogger().addHandler(handler)
    forecasts = ForecastCache(cache_dir)
    table = pd.DataFrame({"forecast": close / 1e4, "fold": 1}, index=index.rename("date"))
    for _ in range(rounds):
        data = source("yfinance", ticker="MSFT", cache_dir=cache_dir + "/prices", max_age_hours=0,
                      retries=0).load()
        pd.testing.assert_frame_equal(data.frame, answer, check_freq=False)
        on_disk = pd.read_csv(cache_dir + "/prices/MSFT.csv", index_col="Date", parse_dates=True)
        assert len(on_disk) == len(answer), len(on_disk)   # never a half-written cache file
        forecasts.store("k", table, {"ticker": "MSFT"})
        got = forecasts.load("k")
        assert got is not None and len(got) == len(table)
    assert not [c for c in complaints if "ignoring" in c or "does not match" in c], complaints
    print("ok")
""")


def test_three_processes_hammering_one_cache_never_see_a_broken_file(tmp_path):
    script = tmp_path / "stress.py"
    script.write_text(STRESS)
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), "12"], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]


@pytest.mark.parametrize("leftover", ["csv only", "note only", "short csv", "other key", "garbage"])
def test_what_a_killed_cache_writer_can_leave_is_never_trusted(tmp_path, leftover, caplog):
    cache = ForecastCache(tmp_path)
    table = pd.DataFrame({"forecast": [0.1, 0.2, 0.3], "fold": [0, 0, 1]},
                         index=pd.bdate_range("2020-01-01", periods=3, name="date"))
    cache.store("key", table, {})
    csv, note = cache.folder / "key.csv", cache.folder / "key.json"
    if leftover == "csv only":
        note.unlink()
    elif leftover == "note only":
        csv.unlink()
    elif leftover == "short csv":  # a stale note beside other rows
        table.iloc[:2].to_csv(csv)
    elif leftover == "other key":
        note.write_text(note.read_text().replace('"key": "key"', '"key": "else"'))
    else:
        csv.write_bytes(b"\x00\x01 not a table")
    (cache.folder / ".key.csv.tmp-abc123").write_text("date,forecast\n2020-01")  # a killed write
    assert cache.load("key") is None
    cache.store("key", table, {})
    pd.testing.assert_frame_equal(cache.load("key"), table, check_freq=False)


# Network faults: yfinance is replaced by answers made here; nothing touches the network.

def _answer(start: str = "2020-01-01", rows: int = 50) -> pd.DataFrame:
    index = pd.bdate_range(start, periods=rows, name="Date")
    close = np.linspace(10, 20, rows)
    return pd.DataFrame({"Open": close, "High": close + 1, "Low": close - 1, "Close": close,
                         "Volume": 100.0}, index=index)


@pytest.mark.parametrize("short", ["ends earlier", "starts later", "a row missing", "empty", "error"])
def test_a_short_or_failed_download_never_replaces_the_cache(tmp_path, monkeypatch, caplog, short):
    monkeypatch.setattr(yahoo, "_download", lambda t: _answer())
    source("yfinance", ticker="MSFT", cache_dir=str(tmp_path)).load()
    good = (tmp_path / "MSFT.csv").read_bytes()
    full = _answer()
    answers = {"ends earlier": full.iloc[:40], "starts later": full.iloc[5:],
               "a row missing": full.drop(full.index[20]), "empty": pd.DataFrame()}

    def download(ticker):
        if short == "error":
            raise OSError("DNS failure")
        return answers[short]

    monkeypatch.setattr(yahoo, "_download", download)
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    with caplog.at_level(logging.WARNING):
        data = source("yfinance", ticker="MSFT", cache_dir=str(tmp_path), max_age_hours=0, retries=1).load()
    assert (tmp_path / "MSFT.csv").read_bytes() == good
    assert data.source == "yfinance-cache" and len(data.frame) == 50
    assert str(full.index[-1].date()) in caplog.text  # the warning names the cache's last date


def test_a_longer_download_replaces_the_cache_and_keeps_its_repairs(tmp_path, monkeypatch):
    monkeypatch.setattr(yahoo, "_download", lambda t: _answer())
    source("yfinance", ticker="MSFT", cache_dir=str(tmp_path)).load()
    longer = _answer(rows=60)
    longer = pd.concat([longer, longer.iloc[[30]]])  # Yahoo sends one day twice
    monkeypatch.setattr(yahoo, "_download", lambda t: longer)
    fresh = source("yfinance", ticker="MSFT", cache_dir=str(tmp_path), max_age_hours=0).load()
    again = source("yfinance", ticker="MSFT", cache_dir=str(tmp_path)).load()  # from the cache
    assert fresh.source == "yfinance" and len(fresh.frame) == 60
    assert again.source == "yfinance-cache" and len(again.frame) == 60
    assert fresh.repairs["duplicate_dates_dropped"] == again.repairs["duplicate_dates_dropped"] == 1


def test_downloads_are_retried_with_exponential_backoff(tmp_path, monkeypatch):
    calls, sleeps = [], []
    monkeypatch.setattr(yahoo, "_download", lambda t: calls.append(t) or pd.DataFrame())
    monkeypatch.setattr(yahoo.time, "sleep", sleeps.append)
    with pytest.raises(Exception, match="could not download MSFT"):
        source("yfinance", ticker="MSFT", cache_dir=str(tmp_path), retries=3, backoff_seconds=0.5).load()
    assert len(calls) == 4 and sleeps == [0.5, 1.0, 2.0]
    assert not list(tmp_path.glob("*"))  # nothing cached from empty answers
