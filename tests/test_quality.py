"""Data checks on hand-made paths with known defects: each is found, dated and handled by its policy."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.csv import CsvSource
from backtests.data.quality import check_quality
from backtests.data.quality.calendar import sessions
from backtests.errors import UserError
from tests.builders import quality, source


def walk(start: str = "2012-01-03", n: int = 300, seed: int = 1, vol: float = 0.01) -> pd.DataFrame:
    """A seeded random walk on real XNYS sessions, in the Yahoo layout (Adj Close = Close)."""
    days = sessions("XNYS").usable
    days = days[days >= np.datetime64(start)][:n]
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = close * np.exp(rng.normal(0, vol / 3, n))
    frame = pd.DataFrame({"Open": open_, "High": np.maximum(open_, close) * 1.004,
                          "Low": np.minimum(open_, close) * 0.996, "Close": close,
                          "Adj Close": close, "Volume": 1e6}, index=pd.DatetimeIndex(days, name="Date"))
    return frame


def load(tmp_path, frame: pd.DataFrame, name: str = "ABC", **policy) -> CsvSource:
    file = tmp_path / f"{name}.csv"
    frame.to_csv(file)
    return source("csv", ticker=name, path=str(file), quality=quality(**policy))


def findings(data, check: str) -> list[dict]:
    return [f for f in data.quality.as_dict()["findings"] if f["check"] == check]


def test_a_clean_path_has_no_findings(tmp_path):
    data = load(tmp_path, walk(), max_age=None).load()
    assert data.quality.findings == [] and data.quality.unscored == []


def test_a_bad_tick_is_found_and_held_at_the_previous_close(tmp_path):
    frame = walk()
    frame.iloc[150, :5] *= 10  # one session's OHLC x10, normal again the next day
    data = load(tmp_path, frame, max_age=None).load()
    [found] = findings(data, "bad_ticks")
    day = frame.index[150]
    assert found["dates"] == [str(day.date())] and found["action"] == "repair"
    assert str(day.date()) in found["done"]
    held = data.frame.loc[day]
    assert held["Open"] == held["High"] == held["Low"] == held["Close"] == frame["Close"].iloc[149]


def test_bad_tick_policies_warn_and_fail(tmp_path):
    frame = walk()
    frame.iloc[150, :5] *= 10
    data = load(tmp_path, frame, bad_ticks="warn", max_age=None).load()
    assert findings(data, "bad_ticks") and data.frame["Close"].iloc[150] == frame["Close"].iloc[150]
    with pytest.raises(UserError) as info:
        load(tmp_path, frame, bad_ticks="fail", max_age=None).load()
    assert str(frame.index[150].date()) in info.value.message and "bad_ticks" in info.value.hint


def test_the_repair_uses_no_future_bar(tmp_path):
    """Cut the file on the spike day: the held bar is the same as with the reversal in view."""
    frame = walk()
    frame.iloc[150, :5] *= 10
    # On the last bar a x10 move looks like an unadjusted 1:10 split: let that check only warn.
    full = load(tmp_path, frame, max_age=None, splits="warn").load().frame
    cut = load(tmp_path, frame.iloc[:151], name="CUT", max_age=None, splits="warn").load().frame
    pd.testing.assert_frame_equal(full.iloc[:151], cut)


def test_a_crash_that_does_not_reverse_is_no_bad_tick(tmp_path):
    frame = walk(vol=0.008)
    drop = np.ones(len(frame))
    drop[150:] = 0.75  # -25% in one session (1987-10-19 shape) ...
    drop[151:153] = [0.80, 0.84]  # ... with the partial rebound of the days after
    drop[153:] = 0.82
    for column in ("Open", "High", "Low", "Close", "Adj Close"):
        frame[column] *= drop
    data = load(tmp_path, frame, max_age=None).load()
    assert findings(data, "bad_ticks") == [] and findings(data, "splits") == []
    np.testing.assert_allclose(data.frame["Close"].to_numpy(), frame["Close"].to_numpy())


def test_an_impossible_bar_is_widened(tmp_path):
    frame = walk()
    frame.iloc[40, frame.columns.get_loc("Open")] = frame["High"].iloc[40] * 1.02
    data = load(tmp_path, frame, max_age=None).load()
    [found] = findings(data, "impossible_bars")
    assert found["dates"] == [str(frame.index[40].date())]
    assert data.frame["High"].iloc[40] == frame["Open"].iloc[40]


def halve_from(frame: pd.DataFrame, row: int, adj: bool) -> pd.DataFrame:
    """A 2:1 split on `row` in the raw prices; `adj` says whether Adj Close adjusts for it."""
    out = frame.copy()
    out.iloc[row:, :4] /= 2
    if not adj:
        out.iloc[row:, out.columns.get_loc("Adj Close")] /= 2
    return out


def test_a_split_that_adj_close_adjusts_is_clean(tmp_path):
    data = load(tmp_path, halve_from(walk(), 200, adj=True), max_age=None).load()
    assert data.quality.findings == []


def test_an_unadjusted_split_stops_the_run_with_its_date(tmp_path):
    frame = halve_from(walk(), 200, adj=False)
    with pytest.raises(UserError) as info:
        load(tmp_path, frame, max_age=None).load()
    assert str(frame.index[200].date()) in info.value.message and "2:1 split" in info.value.message
    assert "Adj Close" in info.value.hint


def test_a_split_like_move_without_adj_close_is_flagged_and_can_be_repaired(tmp_path):
    frame = halve_from(walk(), 200, adj=False).drop(columns=["Adj Close"])
    data = load(tmp_path, frame, splits="repair", max_age=None).load()
    [split] = findings(data, "splits")
    assert "no Adj Close" in split["detail"] and split["dates"] == [str(frame.index[200].date())]
    assert data.frame["Close"].iloc[199] == pytest.approx(frame["Close"].iloc[199] / 2)
    [dividends] = findings(data, "dividends")  # and the plain warning: no dividends in these prices
    assert dividends["action"] == "warn" and data.adjusted is False


def test_holidays_and_real_closures_are_not_gaps(tmp_path):
    frame = walk("2012-10-01", 60)  # XNYS sessions: no 2012-10-29/30 (Sandy), no Thanksgiving
    assert pd.Timestamp("2012-10-29") not in frame.index
    data = load(tmp_path, frame, max_age=None).load()
    assert findings(data, "gaps") == []


def test_a_short_gap_is_kept_and_its_spanning_forecast_not_scored(tmp_path):
    frame = walk("2012-10-01", 60)
    gone = frame.index[[20, 21]]
    data = load(tmp_path, frame.drop(index=gone), max_age=None).load()
    [gap] = findings(data, "gaps")
    assert gap["dates"] == [str(gone[0].date())] and "2 session" in gap["detail"]
    assert data.unscored == [frame.index[19]]


def test_a_long_gap_is_refused_naming_where_to_start(tmp_path):
    frame = walk(n=700)
    holed = frame.drop(index=frame.index[200:500])
    with pytest.raises(UserError) as info:
        load(tmp_path, holed, max_age=None).load()
    assert "300" in info.value.message and str(frame.index[200].date()) in info.value.message
    assert f"data.start={frame.index[500].date()}" in info.value.hint
    data = load(tmp_path, holed, gaps="warn", max_age=None).load()  # the policy can accept it
    assert findings(data, "gaps")[0]["count"] == 1


def test_stale_data_is_reported(tmp_path):
    frame = walk()
    frame.iloc[100:104] = frame.iloc[99].to_numpy()  # four bars repeating the one before
    frame.iloc[50, frame.columns.get_loc("Volume")] = 0
    source = load(tmp_path, frame, max_age=5)
    source.end = frame.index[-1] + pd.Timedelta(days=60)
    data = source.load()
    kinds = {f["kind"]: f for f in findings(data, "stale")}
    assert kinds["zero volume"]["dates"] == [str(frame.index[50].date())]
    assert kinds["3 or more identical bars in a row"]["count"] == 4
    # data.end chose the span: a last bar before it is a note, not a finding
    assert "last bar is old" not in kinds
    assert any("before data.end" in note for note in data.quality.as_dict()["notes"])


def test_an_old_last_bar_is_said_once_and_is_no_finding(tmp_path, caplog):
    data = load(tmp_path, walk()).load()  # 2012-2013 bars, no data.end: years behind today
    assert data.quality.findings == [] and data.quality.age is not None
    said = [r for r in caplog.records if "sessions before today" in r.getMessage()]
    assert len(said) == 1 and "sessions before today" in data.quality.as_dict()["notes"][-1]
    with pytest.raises(UserError, match="last bar is old"):  # a live run can still refuse it
        load(tmp_path, walk(), stale="fail").load()


def test_data_before_the_calendar_models_holidays_is_not_checked_for_gaps(tmp_path):
    index = pd.bdate_range("1962-01-02", periods=60, name="Date")  # Feb 22 etc.: no holidays known
    frame = pd.DataFrame({"Open": 10.0, "High": 10.5, "Low": 9.5, "Close": 10.0, "Volume": 1.0},
                         index=index)
    frame["Close"] = 10 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 60)))
    frame[["Open", "High", "Low"]] = np.c_[frame["Close"], frame["Close"] * 1.01, frame["Close"] * 0.99]
    result, report = check_quality(frame, quality(max_age=None), "old")
    assert not [f for f in report.findings if f.check == "gaps"]
    assert any("not checked for gaps" in note for note in report.notes)


def test_findings_reach_metrics_summary_with_dates(tmp_path):
    frame = walk()
    frame.iloc[150, :5] *= 10
    summary = load(tmp_path, frame, max_age=None).load().summary()
    assert summary["quality"]["counts"] == {"bad_ticks": 1}
    assert summary["quality"]["findings"][0]["dates"] == [str(frame.index[150].date())]


def test_a_bad_policy_name_is_refused(make_cfg):
    from backtests.settings.validate import validate

    with pytest.raises(UserError, match="data.quality.gaps='ignore' is not valid: it must be one of: "
                                        "off, warn, repair, fail"):
        validate(make_cfg("data.quality.gaps=ignore"))


def test_a_huge_jump_that_lasts_is_held_three_bars_then_accepted_and_said_so(tmp_path):
    """The causal rule cannot tell a lasting x1.8 jump from a bad tick until it lasts: it says so."""
    frame = walk()
    frame.iloc[200:, :5] *= 1.8  # no split ratio, no reversal
    data = load(tmp_path, frame, max_age=None).load()
    [held] = [f for f in findings(data, "bad_ticks") if f["kind"] == "held jump that persisted"]
    assert held["dates"] == [str(frame.index[200].date())] and held["action"] == "repair"
    assert (data.frame["Close"].iloc[200:203] == frame["Close"].iloc[199]).all()
    assert data.frame["Close"].iloc[203] == frame["Close"].iloc[203]


def zero_opens(frame: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    """Yahoo's unrecorded opens: Open written as 0 on `rows`."""
    out = frame.copy()
    out.iloc[rows, out.columns.get_loc("Open")] = 0.0
    return out


def test_zero_opens_are_a_dated_finding_and_are_never_traded_at(tmp_path):
    frame = zero_opens(walk(), [0, 1, 2, 50])
    data = load(tmp_path, frame, max_age=None).load()  # the cleaner no longer refuses the file
    [found] = findings(data, "zero_opens")
    assert found["count"] == 4 and found["dates"][-1] == str(frame.index[50].date())
    assert found["action"] == "repair" and findings(data, "impossible_bars") == []
    opens = data.frame["Open"]
    assert (opens > 0).all() and opens.iloc[0] == frame["Close"].iloc[0]
    assert opens.iloc[50] == np.clip(frame["Close"].iloc[49], frame["Low"].iloc[50],
                                     frame["High"].iloc[50])
    assert opens.iloc[51] == frame["Open"].iloc[51]


def test_zero_opens_fail_names_them_and_where_to_start(tmp_path):
    frame = zero_opens(walk(), [0, 1])
    with pytest.raises(UserError) as info:
        load(tmp_path, frame, zero_opens="fail", max_age=None).load()
    assert str(frame.index[1].date()) in info.value.message
    assert f"data.start={frame.index[2].date()}" in info.value.hint


def test_zero_opens_cannot_be_left_in_place(make_cfg):
    from backtests.settings.validate import validate

    with pytest.raises(UserError, match="zero_opens='warn' is not valid"):
        validate(make_cfg("data.quality.zero_opens=warn"))


def test_a_universe_of_old_files_says_so_in_one_line(make_cfg, tmp_path, caplog):
    from backtests.data.universe import load_panel

    folder = tmp_path / "prices"
    folder.mkdir()
    for seed, name in enumerate(["AAA", "BBB", "CCC"]):
        walk(seed=seed).to_csv(folder / f"{name}.csv")
    cfg = make_cfg("data=csv", f"data.path={folder}", "data.start=null", "data.end=null")
    loaded, _ = load_panel(cfg.data, ["AAA", "BBB", "CCC"])
    said = [r.getMessage() for r in caplog.records if "last bar" in r.getMessage()]
    assert len(loaded) == 3 and len(said) == 1 and "old in 3 of 3 tickers" in said[0]


def test_missing_cells_and_an_inverted_bar_are_repaired_and_dated_not_refused(tmp_path):
    """Issue 23: one missing OHLC cell or one High below Low is the quality policy's, as any defect
    of a bar: repaired and reported with its date (it used to refuse the whole file)."""
    frame = walk()
    days = frame.index
    frame.loc[days[50], "Open"] = np.nan
    frame.loc[days[60], "Low"] = np.nan
    frame.loc[days[70], "High"] = frame.loc[days[70], "Low"] * 0.98  # High below Low
    frame.loc[days[80], ["Close", "Adj Close"]] = np.nan
    data = load(tmp_path, frame, max_age=None).load()
    bars = data.frame
    assert not bars[["Open", "High", "Low", "Close"]].isna().any().any()
    assert bars.loc[days[50], "Open"] == pytest.approx(
        np.clip(frame.loc[days[49], "Close"], bars.loc[days[50], "Low"], bars.loc[days[50], "High"]))
    for day in (days[60], days[70]):
        row = frame.loc[day, ["Open", "High", "Low", "Close"]]
        assert bars.loc[day, "High"] == pytest.approx(row.max())
        assert bars.loc[day, "Low"] == pytest.approx(row.min())
    assert days[80] not in bars.index  # no close is invented: the session is a gap, not scored
    impossible = findings(data, "impossible_bars")
    assert [(f["kind"], f["dates"]) for f in impossible] == [
        ("bar without a Close", [str(days[80].date())]),
        ("High or Low missing, or High below Low", [str(days[60].date()), str(days[70].date())])]
    assert findings(data, "zero_opens")[0]["dates"] == [str(days[50].date())]
    assert days[79] in data.quality.unscored  # its next-day return spans the dropped bar


def test_missing_cells_under_fail_stop_the_run_with_their_dates(tmp_path):
    frame = walk()
    frame.loc[frame.index[60], "Low"] = np.nan
    with pytest.raises(UserError, match=f"High below Low: 1 \\({frame.index[60].date()}\\)"):
        load(tmp_path, frame, max_age=None, impossible_bars="fail").load()
