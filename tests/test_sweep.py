"""Sweeps: the deflated Sharpe, the summary, resuming, failures that stay local, launchers, Optuna."""
from __future__ import annotations

import json
import logging
import math
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from backtests.modes import experiment
from backtests.outputs.locations import RESULTS_ENV
from backtests.outputs.results import stored_result
from backtests.pipeline.forecast_cache import ForecastCache
from backtests.pipeline.metrics import performance
from backtests.stages import chain, markets
from backtests.sweeps.deflated_sharpe import (
    deflated_sharpe,
    expected_max_sharpe,
    moments,
    probabilistic_sharpe,
)
from backtests.sweeps.summary import write_summary
from tests.conftest import FAST, ROOT, needs_optuna

# The FAST config with the ridge forecaster: no TensorFlow, a run in about a second.
QUICK = [*FAST, "forecaster=ridge", "report.plots=false"]


def sweep(tmp: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT),
           RESULTS_ENV: str(tmp / "results")}  # each sweep's ledger and store in its own tmp
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", *QUICK, *args,
                           f"hydra.sweep.dir={tmp / 'sweep'}", f"paths.cache_dir={tmp / 'cache'}"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)


# --- the deflated Sharpe ratio ------------------------------------------------------------------

def test_deflated_sharpe_reproduces_the_papers_example():
    # Bailey & Lopez de Prado (2014), section 5: 100 trials, V[SR] = 1/2 (annualised), an
    # annualised Sharpe of 2.5 over 1250 days with skewness -3 and kurtosis 10: DSR = 0.9004.
    sr0_annual = expected_max_sharpe(0.5, 100)
    assert sr0_annual == pytest.approx(1.7894, abs=1e-4)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(250), sr0_annual / math.sqrt(250), 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=1e-4)


def test_expected_max_sharpe_by_hand():
    # N = 10, V = 0.04: Z^-1(1 - 1/10) = 1.28155 and Z^-1(1 - 1/(10 e)) = Z^-1(0.96321) = 1.78924
    # (normal tables), so SR0 = 0.2 * (0.42278 * 1.28155 + 0.57722 * 1.78924) = 0.31492.
    by_hand = 0.2 * (0.4227843 * 1.2815516 + 0.5772157 * 1.7892418)
    assert expected_max_sharpe(0.04, 10) == pytest.approx(by_hand, rel=1e-6)
    assert expected_max_sharpe(0.04, 10) == pytest.approx(0.31492, abs=1e-5)
    assert expected_max_sharpe(0.04, 1) == 0.0  # one trial: no search to deflate for
    assert expected_max_sharpe(float("nan"), 5) == 0.0


def test_normal_returns_give_los_standard_error():
    # Skewness 0, kurtosis 3: PSR = Phi(SR * sqrt(T - 1) / sqrt(1 + SR^2 / 2)).
    expected = stats.norm.cdf(0.1 * math.sqrt(99) / math.sqrt(1 + 0.01 / 2))
    assert probabilistic_sharpe(0.1, 0.0, 100, 0.0, 3.0) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(probabilistic_sharpe(0.1, 0.0, 1, 0.0, 3.0))


def test_deflated_sharpe_of_runs_from_their_returns():
    rng = np.random.default_rng(3)
    runs = {f"run{i}": pd.Series(rng.normal(0.0005 * i, 0.01, 500)) for i in range(4)}
    table = deflated_sharpe(runs)
    srs = [r.mean() / r.std(ddof=1) for r in runs.values()]
    sr0 = math.sqrt(np.var(srs, ddof=1)) * ((1 - 0.5772156649) * stats.norm.ppf(1 - 1 / 4)
                                           + 0.5772156649 * stats.norm.ppf(1 - 1 / (4 * math.e)))
    for (name, r), sr in zip(runs.items(), srs):
        x = r.to_numpy()
        m2 = np.mean((x - x.mean()) ** 2)
        skew, kurt = np.mean((x - x.mean()) ** 3) / m2**1.5, np.mean((x - x.mean()) ** 4) / m2**2
        z = (sr - sr0) * math.sqrt(499) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
        assert table.loc[name, "deflated_sharpe"] == pytest.approx(stats.norm.cdf(z), rel=1e-9)
        assert table.loc[name, "skew"] == pytest.approx(skew)
        assert table.loc[name, "kurtosis"] == pytest.approx(kurt)
    assert (table["trials"] == 4).all() and table["expected_max_sharpe"].iloc[0] == pytest.approx(sr0)
    assert math.isnan(moments(pd.Series([0.0] * 50))["sharpe_per_period"])  # never traded


# --- the summary, from folders on disk -------------------------------------------------------------

def _job(root: Path, name: str, overrides: list[str], returns: np.ndarray | None = None,
         error: str | None = None, ticker: str = "MSFT", start: str = "2020-01-01",
         benchmark: np.ndarray | None = None, uses_forecast: bool | None = None,
         entries: list[str] | None = None) -> Path:
    """A job folder as a run leaves it; metrics.json computed from returns.csv as run.py does.

    `uses_forecast` None leaves the key out, as in runs written before strategies declared it.
    """
    folder = root / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (folder / ".hydra" / "config.yaml").write_text(f"ticker: {ticker}\n")
    (folder / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  runtime:\n    choices:\n      strategy: sma_cross\n")
    if returns is not None:
        index = pd.bdate_range(start, periods=len(returns), name="date")
        if benchmark is None:
            benchmark = np.linspace(-0.001, 0.002, len(returns))  # the same data under every run
        frame = pd.DataFrame({"strategy": returns, "benchmark": benchmark}, index=index)
        frame.to_csv(folder / "returns.csv")
        mine, bench = performance(frame["strategy"]), performance(frame["benchmark"])
        mine.update(trades=len(entries or [1, 2, 3]),
                    excess_total_return=mine["total_return"] - bench["total_return"])
        if uses_forecast is not None:
            mine["uses_forecast"] = uses_forecast
        metrics = {"strategy": mine, "benchmark": bench,
                   "forecast": {"theil_u": 0.99, "directional_accuracy": 0.52, "dm_pvalue": 0.3}}
        (folder / "metrics.json").write_text(json.dumps(metrics))
        (folder / "report.html").write_text("<html></html>")
        if entries is not None:
            pd.DataFrame({"entry_date": entries, "exit_date": entries}).to_csv(
                folder / "trades.csv", index=False)
    if error is not None:
        (folder / "error.txt").write_text(error)
    return folder


def test_summary_lists_every_run_with_its_deflated_sharpe_and_failures(tmp_path):
    rng = np.random.default_rng(1)
    returns = {n: rng.normal(0.0004, 0.01, 300) for n in ("0_a_MSFT", "1_b_MSFT", "10_c_MSFT")}
    for number, (name, r) in enumerate(returns.items()):
        _job(tmp_path, name, ["forecaster=ridge", f"strategy.fast={number}"], r)
    _job(tmp_path, "2_d_<b>X", ["forecaster=ridge", "ticker=<script>alert(1)</script>"],
         error="Traceback ...\nValueError: <boom>\n")
    _job(tmp_path, "3_e_MSFT", ["forecaster=ridge", "strategy.fast=9"])  # killed: no files
    (tmp_path / ".submitit").mkdir()  # not a job folder
    rows = write_summary(tmp_path)
    assert [r["job"] for r in rows] == ["0_a_MSFT", "1_b_MSFT", "2_d_<b>X", "3_e_MSFT", "10_c_MSFT"]
    table = pd.read_csv(tmp_path / "summary.csv")
    assert list(table["status"]) == ["complete", "complete", "failed", "incomplete", "complete"]
    expected = deflated_sharpe({n: pd.Series(r) for n, r in returns.items()})
    done = table.set_index("job").loc[list(returns)]
    assert np.allclose(done["deflated_sharpe"], expected.loc[list(returns), "deflated_sharpe"], rtol=1e-8)
    assert (done["trials"] == 3).all()
    for job in returns:  # one period for all: the figures are those of metrics.json
        stored = json.loads((tmp_path / job / "metrics.json").read_text())
        for key in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "trades"):
            assert done.loc[job, key] == pytest.approx(stored["strategy"][key], rel=1e-9)
        assert done.loc[job, "excess_return"] == pytest.approx(
            stored["strategy"]["excess_total_return"], rel=1e-9)
    assert not done["recomputed"].any() and (done["period_start"] == "2020-01-01").all()
    assert table.loc[2, "error"] == "ValueError: <boom>"
    page = (tmp_path / "summary.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="0_a_MSFT/report.html"' in page and "2_d_&lt;b&gt;X" in page
    assert page.count("<polyline") == 3 + 1  # three runs, one shared buy-and-hold
    assert "All 3 runs share the test period 2020-01-01 to 2021-02-23." in page
    assert "https://" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def _row_html(page: str, job: str) -> str:
    """The summary table row of `job`."""
    return next(row for row in page.split("<tr>") if f'data-v="{job}"' in row)


def test_summary_ranks_every_run_over_the_common_test_period(tmp_path):
    # An Optuna trial whose shorter window started its test 100 days earlier, during a rally: its
    # own figures win, over the period all runs share it is an ordinary run.
    rng = np.random.default_rng(7)
    days = pd.bdate_range("2019-01-01", periods=600)
    market = pd.Series(rng.normal(0.0004, 0.01, 600), index=days)
    market.iloc[:100] += 0.01
    early = market * 1.0
    late = pd.Series(rng.normal(0.0006, 0.01, 600), index=days)
    short = pd.Series(rng.normal(0.0002, 0.01, 600), index=days)
    _job(tmp_path, "0_window20", ["forecaster.window=20"], early.to_numpy(), start="2019-01-01",
         benchmark=market.to_numpy(), entries=["2019-01-02", "2019-03-01", "2019-09-02"])
    _job(tmp_path, "1_window60", ["forecaster.window=60"], late.iloc[100:].to_numpy(),
         start=str(days[100].date()), benchmark=market.iloc[100:].to_numpy())
    _job(tmp_path, "2_window90", ["forecaster.window=90"], short.iloc[100:580].to_numpy(),
         start=str(days[100].date()), benchmark=market.iloc[100:580].to_numpy())
    old = json.loads((tmp_path / "0_window20" / "metrics.json").read_text())["strategy"]
    write_summary(tmp_path)
    table = pd.read_csv(tmp_path / "summary.csv").set_index("job")
    first, last = days[100], days[579]
    assert (table["period_start"] == str(first.date())).all()
    assert (table["period_end"] == str(last.date())).all()
    assert list(table["recomputed"]) == [True, True, False]
    assert table.loc["0_window20", "own_period_start"] == "2019-01-01"
    cut = {"0_window20": early, "1_window60": late, "2_window90": short}
    for job, strategy in cut.items():
        mine = performance(strategy.loc[first:last])
        bench = performance(market.loc[first:last])
        for key in ("total_return", "cagr", "sharpe", "sortino", "max_drawdown"):
            assert table.loc[job, key] == pytest.approx(mine[key], rel=1e-9), (job, key)
        assert table.loc[job, "benchmark_total_return"] == pytest.approx(bench["total_return"])
        assert table.loc[job, "excess_return"] == pytest.approx(mine["total_return"]
                                                                - bench["total_return"])
    assert table.loc["0_window20", "sharpe"] < old["sharpe"] / 2  # the rally is not counted
    assert table.loc["0_window20", "trades"] == 1  # entered in the common period
    assert math.isnan(table.loc["1_window60", "trades"])  # longer, no trades.csv: unknown
    assert table.loc["2_window90", "trades"] == 3  # its own period: as stored
    expected = deflated_sharpe({job: r.loc[first:last] for job, r in cut.items()})
    assert np.allclose(table["deflated_sharpe"], expected.loc[list(cut), "deflated_sharpe"])
    page = (tmp_path / "summary.html").read_text()
    assert (f"Every figure is over the test period all 3 complete runs share, {first.date()} to "
            f"{last.date()}") in page
    assert "&dagger;" in _row_html(page, "0_window20") and "&dagger;" not in _row_html(page, "2_window90")
    assert page.count("<polyline") == 3 + 1  # one buy and hold: the same prices over one period


def test_runs_without_a_shared_test_period_are_not_ranked(tmp_path):
    rng = np.random.default_rng(9)
    _job(tmp_path, "0_early", ["data.start=2010-01-01"], rng.normal(0, 0.01, 100), start="2010-01-01")
    _job(tmp_path, "1_late", ["data.start=2015-01-01"], rng.normal(0, 0.01, 100), start="2015-01-01")
    write_summary(tmp_path)
    table = pd.read_csv(tmp_path / "summary.csv")
    assert table[["sharpe", "total_return", "deflated_sharpe", "excess_psr"]].isna().all().all()
    assert list(table["own_period_start"]) == ["2010-01-01", "2015-01-01"]
    assert "share no test period" in (tmp_path / "summary.html").read_text()


def test_excess_deflated_sharpe_catches_a_run_far_behind_buy_and_hold(tmp_path):
    rng = np.random.default_rng(11)
    market = rng.normal(0.0015, 0.01, 750)
    runs = {"0_half_invested": 0.5 * market + rng.normal(0.0, 0.001, 750),  # a fine Sharpe, far behind
            "1_noise": rng.normal(0.0, 0.01, 750), "2_noise": rng.normal(0.0002, 0.01, 750),
            "3_buy_and_hold": market.copy()}  # its excess is zero every day: no excess Sharpe
    for name, r in runs.items():
        _job(tmp_path, name, [f"strategy={name}"], r, benchmark=market)
    write_summary(tmp_path)
    table = pd.read_csv(tmp_path / "summary.csv").set_index("job")
    behind = table.loc["0_half_invested"]
    assert behind["excess_return"] < -1 and behind["deflated_sharpe"] > 0.9
    assert behind["excess_deflated_sharpe"] < 0.01 and behind["excess_psr"] < 0.01
    excess = {n: pd.Series(r - market) for n, r in runs.items()}
    expected = deflated_sharpe(excess, trials=4)
    assert np.allclose(table.loc[list(runs)[:3], "excess_deflated_sharpe"],
                       expected.loc[list(runs)[:3], "deflated_sharpe"], rtol=1e-9)
    defined = [e.mean() / e.std(ddof=1) for e in list(excess.values())[:3]]
    assert (table["trials"] == 4).all()  # the same search deflates both
    assert table["excess_expected_max_sharpe"].iloc[0] == pytest.approx(
        expected_max_sharpe(np.var(defined, ddof=1), 4))
    assert math.isnan(table.loc["3_buy_and_hold", "excess_deflated_sharpe"])
    page = (tmp_path / "summary.html").read_text()
    assert 'data-key="excess_deflated_sharpe"' in page and 'data-key="excess_psr"' in page
    assert "excess return over buy and hold (strategy minus benchmark)" in page


def test_summary_leaves_forecast_skill_blank_for_runs_that_ignore_the_forecast(tmp_path):
    rng = np.random.default_rng(5)
    for name, uses in (("0_sma_cross", False), ("1_lstm", True), ("2_older_run", None)):
        _job(tmp_path, name, [f"strategy={name}"], rng.normal(0.0003, 0.01, 200), uses_forecast=uses)
    write_summary(tmp_path)
    table = pd.read_csv(tmp_path / "summary.csv").set_index("job")
    assert table.loc["0_sma_cross", ["theil_u", "directional_accuracy", "dm_pvalue"]].isna().all()
    assert (table.loc[["1_lstm", "2_older_run"], "theil_u"] == 0.99).all()
    assert list(table["uses_forecast"]) == [False, True, True]  # absent: an older forecast run
    page = (tmp_path / "summary.html").read_text()
    assert ">0.990<" not in _row_html(page, "0_sma_cross") and ">52.0%<" not in _row_html(page, "0_sma_cross")
    assert ">0.990<" in _row_html(page, "1_lstm") and ">0.990<" in _row_html(page, "2_older_run")


def test_summary_page_prints_plain_numbers_and_draws_every_line_apart(tmp_path):
    wiggle = np.tile([0.01, -0.01], 150) + 2.8e-6  # an annualised Sharpe of about 0.0044
    rng = np.random.default_rng(2)
    for number, ticker in enumerate(("MSFT", "GOOG")):
        market = rng.normal(0.0005, 0.01, 300)
        _job(tmp_path, f"{number}_flat_{ticker}", ["strategy=a", f"ticker={ticker}"], wiggle,
             ticker=ticker, benchmark=market)
        _job(tmp_path, f"{number + 2}_noise_{ticker}", ["strategy=b", f"ticker={ticker}"],
             rng.normal(0.0003, 0.01, 300), ticker=ticker, benchmark=market)
    write_summary(tmp_path)
    page = (tmp_path / "summary.html").read_text()
    table = page[page.index('<table id="runs"'):page.index("</table>")]
    assert not re.search(r"\de[-+]\d", table)  # no 4.44e-03
    assert ">0.00<" in _row_html(page, "0_flat_MSFT")
    styles = re.findall(r'<polyline fill="none" stroke="([^"]+)" stroke-width="[^"]+"'
                        r'(?: stroke-dasharray="([^"]+)")? points', page)
    assert len(styles) == 4 + 2 and len(set(styles)) == 6  # four runs, one buy and hold per ticker
    assert all(dash for _, dash in styles[4:])  # buy and hold: dashed, runs: solid
    assert page.count("buy &amp; hold MSFT") == 2 and page.count("buy &amp; hold GOOG") == 2
    y_labels = re.findall(r'text-anchor="end" font-size="11">([\d.]+)</text>', page)
    assert len(y_labels) >= 4 and len(set(y_labels)) == len(y_labels)
    x_labels = re.findall(r'text-anchor="middle" font-size="11">(\d{4}[\d-]*)</text>', page)
    assert len(x_labels) >= 3


# --- resuming: complete results are skipped, before any data is read -------------------------------

def test_a_complete_run_is_skipped_and_returns_its_stored_sharpe(make_cfg, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    cfg = make_cfg(*QUICK)
    first = experiment.run_experiment(cfg)
    stored = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())["strategy"]["sharpe"]
    assert first == pytest.approx(stored)
    for stage in (chain, markets):  # the settings' check and the load: neither may run
        monkeypatch.setattr(stage, "instantiate", lambda *a, **k: pytest.fail("data was loaded"))
    assert experiment.run_experiment(cfg) == first
    assert "skipping: complete results in" in caplog.text


def test_other_settings_or_unreadable_results_run_again(make_cfg, caplog):
    cfg = make_cfg(*QUICK)
    experiment.run_experiment(cfg)
    metrics = Path(cfg.paths.output_dir) / "metrics.json"
    changed = make_cfg(*QUICK, "strategy.entry=0.001")
    experiment.run_experiment(changed)
    assert "came from other settings; running again" in caplog.text
    metrics.write_text('{"strategy": ')  # as if a foreign tool cut it short
    experiment.run_experiment(changed)
    assert "unreadable" in caplog.text and json.loads(metrics.read_text())["strategy"]


def test_a_class_moved_to_another_module_does_not_rerun_a_finished_job(make_cfg):
    from omegaconf import open_dict

    cfg = make_cfg(*QUICK)
    experiment.run_experiment(cfg)
    moved = make_cfg(*QUICK)
    with open_dict(moved):
        moved.broker._target_ = "elsewhere.costs.BrokerSettings"  # same class, new module path
    assert stored_result(Path(cfg.paths.output_dir), moved) is not None
    other = make_cfg(*QUICK, "broker.commission=0.002")
    assert stored_result(Path(cfg.paths.output_dir), other) is None


# --- the forecast cache lock: one job trains, the others wait and reuse ---------------------------

def _one_row(value: float) -> pd.DataFrame:
    return pd.DataFrame({"forecast": [value]}, index=pd.Index([pd.Timestamp("2020-01-01")], name="date"))


def _claim_then_store(folder: str, hold: float) -> None:
    cache = ForecastCache(folder)
    assert cache.load("k") is None  # a miss: this process now holds the key
    time.sleep(hold)
    cache.store("k", _one_row(1.0), {})


def test_a_second_process_waits_for_the_first_and_reuses_its_forecasts(tmp_path):
    ctx = mp.get_context("spawn")
    holder = ctx.Process(target=_claim_then_store, args=(str(tmp_path), 2.0))
    holder.start()
    lock = tmp_path / "locks"
    for _ in range(200):  # until the holder has its lock
        if lock.exists() and any(lock.iterdir()):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.perf_counter()
    got = ForecastCache(tmp_path).load("k")
    waited = time.perf_counter() - started
    holder.join(10)
    assert got is not None and list(got["forecast"]) == [1.0]
    assert waited > 0.5


def test_a_killed_holder_frees_the_lock(tmp_path):
    holder = mp.get_context("spawn").Process(target=_claim_then_store, args=(str(tmp_path), 60.0))
    holder.start()
    time.sleep(2.0)
    holder.kill()
    holder.join(10)
    cache = ForecastCache(tmp_path)
    assert cache.load("k") is None  # not a hang: the kernel dropped the dead process's lock
    cache.store("k", _one_row(2.0), {})
    assert cache.load("k") is not None


# --- real sweeps through run.py ------------------------------------------------------------------

@pytest.mark.slow  # a joblib sweep of subprocesses with a failing job: ~15 s
def test_joblib_sweep_keeps_going_past_a_failed_job_and_trains_once(tmp_path):
    # two strategies that read the forecast: one trains, the other reuses (sma_cross would train none)
    done = sweep(tmp_path, "hydra/launcher=joblib", "strategy=lstm_momentum,lstm_long_short",
                 "data.bars=420,100")
    assert done.returncode == 1, done.stderr[-3000:]  # a failed run is reported at the end
    root = tmp_path / "sweep"
    table = pd.read_csv(root / "summary.csv")
    assert len(table) == 4 and list(table["status"]).count("complete") == 2
    failed = table[table["status"] == "failed"]
    assert len(failed) == 2 and failed["error"].str.contains("needs at least").all()
    for job in failed["job"]:
        assert (root / job / "error.txt").read_text().startswith("error: ")
    trained = [json.loads(p.read_text())["forecasts_from_cache"] for p in root.glob("*/run_info.json")]
    assert sorted(trained) == [False, True]  # two jobs share a key: one trains, one reuses
    assert table["deflated_sharpe"].notna().sum() == 2
    assert "summary.html" in done.stderr + done.stdout


@pytest.mark.slow  # a sweep killed in a subprocess, then resumed: a stress check, ~12 s each
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_sweep_finishes_only_the_missing_runs(tmp_path, how):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    # The signal goes as soon as the first job's metrics.json is on disk. The sweep gets the
    # default SIGINT handling a terminal gives (a shell's background job, as CI may be, ignores
    # SIGINT, and a child inherits that: Ctrl-C would never reach it).
    args = [sys.executable, str(ROOT / "run.py"), "-m", *QUICK, "seed=1,2,3",
            f"hydra.sweep.dir={tmp_path / 'sweep'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    root = tmp_path / "sweep"
    with (tmp_path / "sweep.log").open("w") as out:
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 240
        while not any(root.glob("*/metrics.json")):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no job finished:\n{(tmp_path / 'sweep.log').read_text()[-3000:]}")
            time.sleep(0.02)
        proc.send_signal(how)
        proc.wait(timeout=60)
    complete = sorted(p.parent.name for p in root.glob("*/metrics.json"))
    assert 1 <= len(complete) < 3 and not (root / "summary.csv").exists()
    before = {job: (root / job / "metrics.json").stat().st_mtime_ns for job in complete}
    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert log.count("skipping: complete results in") == len(complete)
    assert log.count("results in ") - log.count("skipping: complete results in") == 3 - len(complete)
    assert {job: (root / job / "metrics.json").stat().st_mtime_ns for job in complete} == before
    table = pd.read_csv(root / "summary.csv")
    assert list(table["status"]) == ["complete"] * 3


@pytest.mark.slow  # two jobs through submitit's local executor, each a fresh process: ~16 s
def test_submitit_local_runs_a_two_job_sweep(tmp_path):
    done = sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
                 "strategy=lstm_momentum,buy_and_hold")
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert list(table["status"]) == ["complete", "complete"]
    assert list(table["strategy"]) == ["lstm_momentum", "buy_and_hold"]


@needs_optuna
def test_optuna_search_tunes_for_the_sharpe_and_summarises(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    # Settings given on the command line stay fixed: here only the strategy thresholds are searched
    # (the tiny LSTM of FAST; the search space has LSTM keys, so not the ridge forecaster).
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), "hparams_search=optuna", *FAST,
                           "report.plots=false", "forecaster.dropout=0.0", "hydra.sweeper.n_trials=2",
                           f"hydra.sweep.dir={tmp_path / 'sweep'}", f"paths.cache_dir={tmp_path / 'cache'}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    best = (tmp_path / "sweep" / "optimization_results.yaml").read_text()
    assert "strategy.entry" in best and "best_value" in best
    table = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert len(table) == 2 and (table["status"] == "complete").all()
    assert table["overrides"].str.contains("strategy.entry=").all()


def test_the_slurm_launcher_config_composes():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=cpu"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher") and launcher.partition == "cpu"
    assert launcher.cpus_per_task == 2 and launcher.timeout_min == 180 and launcher.mem_gb == 8
