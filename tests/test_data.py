"""CSV loading (Yahoo layout and plain OHLCV), adjustment, cleaning, and the yfinance cache."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data import yahoo
from backtests.errors import UserError
from tests.builders import source

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,10,12,9,11,5.5,100
2020-01-03,11,13,10,12,6,200
2020-01-06,12,14,11,13,13,300
"""


def test_yahoo_layout_is_scaled_by_adj_close(tmp_path):
    (tmp_path / "ABC.csv").write_text(YAHOO)
    frame = source("csv", ticker="abc", path=str(tmp_path)).load().frame
    assert list(frame.columns) == ["Open", "High", "Low", "Close", "Volume"]
    # factor Adj Close / Close = 0.5 on the first two rows, 1.0 on the last
    assert frame.loc["2020-01-02", ["Open", "High", "Low", "Close"]].tolist() == [5, 6, 4.5, 5.5]
    assert frame.loc["2020-01-03", "Close"] == 6
    assert frame.loc["2020-01-06", "Open"] == 12
    assert frame["Volume"].tolist() == [100, 200, 300]


def test_plain_ohlcv_file_and_date_range(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("date,open,high,low,close,volume\n2020-01-02,1,2,0.5,1.5,10\n"
                    "2020-01-03,1.5,2,1,1.8,10\n2020-01-06,1.8,2,1.7,1.9,10\n")
    data = source("csv", ticker="X", path=str(path), start="2020-01-03").load()
    assert data.frame.index[0] == pd.Timestamp("2020-01-03") and len(data.frame) == 2
    assert data.summary()["rows"] == 2


def test_repairs_are_counted_and_result_is_sorted_unique(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2020-01-03,2,3,1,2,5\n"
                    "2020-01-02,1,2,0.5,1.5,5\n,,,,,\n2020-01-03,9,9,9,9,9\n2020-01-06,,,,,\n")
    data = source("csv", ticker="X", path=str(path)).load()
    assert data.frame.index.is_monotonic_increasing and data.frame.index.is_unique
    assert data.frame.loc["2020-01-03", "Open"] == 2  # the first of a duplicated date is kept
    assert data.repairs == {"empty_rows_dropped": 2, "duplicate_dates_dropped": 1, "rows_out_of_order": 1}


@pytest.mark.parametrize("body, words", [
    ("Date,Open,High,Low,Volume\n2020-01-02,1,2,0.5,1\n", ["Close"]),
    ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,abc,1\n", ["Close", "2020-01-02", "abc"]),
    ("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,-1,1\n", ["Close", "2020-01-02", "positive"]),
    ("", ["empty"]),  # a High below Low is the quality policy's (tests/test_quality.py)
])
def test_broken_files_are_refused_with_file_date_and_column(tmp_path, body, words):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(UserError) as info:
        source("csv", ticker="X", path=str(path)).load()
    assert str(path) in info.value.message
    for word in words:
        assert word in info.value.message


def test_missing_ticker_in_folder_lists_what_is_there(tmp_path):
    (tmp_path / "ABC.csv").write_text(YAHOO)
    with pytest.raises(UserError, match="no ZZZ.csv") as info:
        source("csv", ticker="ZZZ", path=str(tmp_path)).load()
    assert "ABC" in info.value.hint


def test_synthetic_market_is_seeded_and_valid():
    a = source("synthetic", ticker="SYN", seed=3, bars=300).load().frame
    b = source("synthetic", ticker="SYN", seed=3, bars=300).load().frame
    c = source("synthetic", ticker="SYN", seed=4, bars=300).load().frame
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert (a["High"] >= a[["Open", "Close"]].max(axis=1)).all()
    assert (a["Low"] <= a[["Open", "Close"]].min(axis=1)).all()
    returns = np.log(a["Close"]).diff().dropna()
    assert 0.05 < returns.std() * np.sqrt(252) < 0.6  # a plausible equity volatility


def _answer(rows: int = 5) -> pd.DataFrame:
    index = pd.bdate_range("2020-01-01", periods=rows, name="Date")
    close = np.linspace(10, 14, rows)
    return pd.DataFrame({"Open": close, "High": close + 1, "Low": close - 1, "Close": close,
                         "Volume": 100.0}, index=index)


def test_yfinance_download_is_cached_and_reused(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(yahoo, "_download", lambda t: calls.append(t) or _answer())
    first = source("yfinance", ticker="msft", cache_dir=str(tmp_path)).load()
    second = source("yfinance", ticker="MSFT", cache_dir=str(tmp_path)).load()
    assert calls == ["MSFT"] and first.source == "yfinance" and second.source == "yfinance-cache"
    pd.testing.assert_frame_equal(first.frame, second.frame, check_freq=False)


def test_yfinance_offline_without_cache_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(yahoo, "_download", lambda t: pd.DataFrame())
    with pytest.raises(UserError) as info:
        source("yfinance", ticker="MSFT", cache_dir=str(tmp_path), retries=1, backoff_seconds=0).load()
    assert "could not download MSFT" in info.value.message
    assert "data=csv" in info.value.hint and "data=synthetic" in info.value.hint


def test_failed_download_falls_back_to_stale_cache_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.setattr(yahoo, "_download", lambda t: _answer())
    source("yfinance", ticker="MSFT", cache_dir=str(tmp_path)).load()
    good = (tmp_path / "MSFT.csv").read_bytes()

    def offline(ticker):
        raise OSError("DNS failure")

    monkeypatch.setattr(yahoo, "_download", offline)
    data = source("yfinance", ticker="MSFT", cache_dir=str(tmp_path), max_age_hours=0, retries=0).load()
    assert data.source == "yfinance-cache" and len(data.frame) == 5
    assert (tmp_path / "MSFT.csv").read_bytes() == good


def test_the_ticker_comes_from_the_file_name_and_a_contradiction_is_refused(make_cfg, tmp_path):
    from backtests.settings.validate import validate

    (tmp_path / "TSLA.csv").write_text(YAHOO)
    cfg = make_cfg("data=csv", f"data.path={tmp_path}/TSLA.csv")
    assert cfg.ticker == "TSLA" and cfg.data.ticker == "TSLA"
    assert make_cfg("data=csv", f"data.path={tmp_path}").ticker == "MSFT"  # a folder names no ticker
    with pytest.raises(UserError, match="ticker=GOOG.*TSLA") as info:
        validate(make_cfg("data=csv", f"data.path={tmp_path}/TSLA.csv", "ticker=GOOG"))
    assert "ticker=TSLA" in info.value.hint
    with pytest.raises(UserError, match="TSLA"):
        source("csv", ticker="GOOG", path=str(tmp_path / "TSLA.csv"))


def test_a_long_list_in_a_hint_says_how_many_more(tmp_path):
    for number in range(15):
        (tmp_path / f"T{number:02d}.csv").write_text(YAHOO)
    with pytest.raises(UserError) as info:
        source("csv", ticker="ZZZ", path=str(tmp_path)).load()
    assert info.value.hint.endswith("and 3 more")


def test_cleaner_repairs_are_dated(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n2020-01-03,2,3,1,2,5\n"
                    "2020-01-02,1,2,0.5,1.5,5\n2020-01-03,9,9,9,9,9\n")
    data = source("csv", ticker="X", path=str(path)).load()
    assert data.repair_dates == {"rows_out_of_order": ["2020-01-02"],
                                 "duplicate_dates_dropped": ["2020-01-03"]}


def test_a_defect_before_data_start_does_not_refuse_the_file(tmp_path):
    path = tmp_path / "OLD.csv"
    path.write_text("Date,Open,High,Low,Close,Volume\n1962-01-02,-1,2,1,1.5,5\n"
                    "2020-01-02,1,2,0.5,1.5,5\n2020-01-03,1.5,2,1,1.8,5\n")
    assert len(source("csv", ticker="OLD", path=str(path), start="2010-01-01").load().frame) == 2
    with pytest.raises(UserError, match="Open on 1962-01-02"):
        source("csv", ticker="OLD", path=str(path)).load()  # the whole file: the negative Open is refused
    with pytest.raises(UserError, match="no rows in .* covers 1962-01-02 to 2020-01-03"):
        source("csv", ticker="OLD", path=str(path), start="2021-01-01").load()


def test_a_close_only_file_is_refused_saying_what_needs_the_rest_of_the_bar(tmp_path):
    path = tmp_path / "CLOSE.csv"
    path.write_text("Date,Close\n2020-01-02,10\n2020-01-03,10.5\n")
    with pytest.raises(UserError) as info:
        source("csv", ticker="CLOSE", path=str(path)).load()
    message = info.value.message
    assert "closes only (no Open, High, Low, Volume)" in message and "next bar's Open" in message
    assert "range (High, Low)" in message and "volume_z (Volume)" in message
    assert "Date,Open,High,Low,Close,Volume" in info.value.hint
