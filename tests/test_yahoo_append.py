"""yfinance: a stale cache is extended by the new sessions alone, checked against the cache."""
from __future__ import annotations

import pandas as pd
import pytest

from backtests.data import yahoo
from backtests.data.synthetic import synthetic_bars
from backtests.errors import UserError
from tests.builders import source

HISTORY = synthetic_bars(300, seed=11).rename_axis("Date")


class Provider:
    """A stand-in for Yahoo: answers from its `history`, recording each request's start."""

    def __init__(self, history: pd.DataFrame) -> None:
        self.history, self.calls = history, []

    def __call__(self, ticker: str, start: str | None = None) -> pd.DataFrame:
        self.calls.append(start)
        return self.history if start is None else self.history.loc[start:]


def _load(tmp_path, provider, monkeypatch):
    monkeypatch.setattr(yahoo, "_download", provider)
    return source("yfinance", ticker="MSFT", cache_dir=str(tmp_path), max_age_hours=0,
                  retries=0, start="2000-01-01").load()


def _cached(tmp_path, monkeypatch, rows: int = 290) -> Provider:
    provider = Provider(HISTORY.iloc[:rows])
    _load(tmp_path, provider, monkeypatch)
    return provider


def test_new_sessions_are_fetched_alone_and_appended(tmp_path, monkeypatch, caplog):
    provider = _cached(tmp_path, monkeypatch)
    provider.history = HISTORY
    with caplog.at_level("INFO", logger="backtests.data.yahoo"):
        data = _load(tmp_path, provider, monkeypatch)
    assert provider.calls == [None, str(HISTORY.index[285].date())]  # the last 5 cached, then new
    assert "appended 10 new MSFT sessions" in caplog.text
    whole = _load(tmp_path / "fresh", Provider(HISTORY), monkeypatch)
    pd.testing.assert_frame_equal(data.frame, whole.frame, check_exact=True, check_freq=False)


def test_a_readjusted_history_is_fetched_whole_and_said(tmp_path, monkeypatch, caplog):
    provider = _cached(tmp_path, monkeypatch)
    adjusted = HISTORY.copy()
    adjusted[["Open", "High", "Low", "Close"]] *= 0.985  # a dividend re-adjusts every earlier bar
    provider.history = adjusted
    with caplog.at_level("INFO", logger="backtests.data.yahoo"):
        data = _load(tmp_path, provider, monkeypatch)
    assert provider.calls[1:] == [str(HISTORY.index[285].date()), None]
    assert "re-adjusted MSFT's history" in caplog.text and "fetching the whole series" in caplog.text
    assert data.frame["Close"].iloc[0] == pytest.approx(adjusted["Close"].iloc[0])


def _refused(tmp_path, monkeypatch, answer: pd.DataFrame) -> UserError:
    provider = _cached(tmp_path, monkeypatch)
    before = (tmp_path / "MSFT.csv").read_bytes(), (tmp_path / "MSFT.json").read_bytes()
    provider.history = answer
    with pytest.raises(UserError) as info:
        _load(tmp_path, provider, monkeypatch)
    assert ((tmp_path / "MSFT.csv").read_bytes(), (tmp_path / "MSFT.json").read_bytes()) == before
    return info.value


def test_a_cached_bar_revised_beyond_rounding_is_refused_naming_it(tmp_path, monkeypatch):
    answer = HISTORY.copy()
    answer.iloc[287, answer.columns.get_loc("Close")] *= 1.01
    error = _refused(tmp_path, monkeypatch, answer)
    assert str(HISTORY.index[287].date()) in error.message and "Close" in error.message
    assert "delete" in error.hint


def test_new_rows_out_of_order_are_refused_naming_them(tmp_path, monkeypatch):
    answer = pd.concat([HISTORY.iloc[:295], HISTORY.iloc[[297]], HISTORY.iloc[[296]]])
    error = _refused(tmp_path, monkeypatch, answer)
    assert f"{HISTORY.index[296].date()} after later dates" in error.message


def test_a_new_date_twice_with_other_prices_is_refused_naming_it(tmp_path, monkeypatch):
    twice = HISTORY.iloc[[295]].copy()
    twice["Close"] *= 1.02
    answer = pd.concat([HISTORY.iloc[:296], twice, HISTORY.iloc[296:]])
    error = _refused(tmp_path, monkeypatch, answer)
    assert f"{HISTORY.index[295].date()} given twice with different prices" in error.message
