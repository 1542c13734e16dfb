"""Splits told from market moves by their evidence: hand-made crashes, takeover jumps and true splits.

Each path is a seeded walk on XNYS sessions with a realistic (noisy) share volume, and one event on
row 200: a market move (close near a split ratio, the open gapping less, a volume spike that fades)
or an unadjusted split (every price from the split on divided by the exact ratio, volume multiplied
by it and staying there), in three file kinds: no Adj Close, an Adj Close that moves with Close, and
(for splits) an Adj Close that adjusts for it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.data.universe import load_panel
from backtests.errors import UserError
from tests.builders import quality
from tests.test_quality import findings, load, walk

ROW = 200


def traded(seed: int = 1) -> pd.DataFrame:
    """A walk with a share volume that varies day to day around a million."""
    frame = walk(seed=seed)
    rng = np.random.default_rng(seed + 100)
    frame["Volume"] = np.round(1e6 * np.exp(rng.normal(0, 0.3, len(frame))))
    return frame


def _set_open(frame: pd.DataFrame, row: int, value: float) -> None:
    col = frame.columns.get_loc
    frame.iloc[row, col("Open")] = value
    frame.iloc[row, col("High")] = max(frame["High"].iloc[row], value)
    frame.iloc[row, col("Low")] = min(frame["Low"].iloc[row], value)


def market_move(close_move: float, open_move: float, adj: str, seed: int = 1) -> pd.DataFrame:
    """Close x`close_move` on ROW and staying, open x`open_move`, volume x8 fading over 4 days."""
    frame = traded(seed)
    scale = close_move * frame["Close"].iloc[ROW - 1] / frame["Close"].iloc[ROW]
    frame.iloc[ROW:, :5] *= scale  # OHLC and Adj Close: the price really moved
    _set_open(frame, ROW, open_move * frame["Close"].iloc[ROW - 1])
    frame.iloc[ROW:ROW + 5, frame.columns.get_loc("Volume")] *= [8, 5, 3, 1.8, 1.3]
    return _adj(frame, adj)


def split(ratio: float, adj: str, seed: int = 1) -> pd.DataFrame:
    """An unadjusted split on ROW: prices from there on x`ratio`, volume x1/`ratio` and staying."""
    frame = traded(seed)
    frame.iloc[ROW:, :4] *= ratio
    frame.iloc[ROW:, frame.columns.get_loc("Volume")] = np.round(frame["Volume"].iloc[ROW:] / ratio)
    if adj != "adjusts":
        frame.iloc[ROW:, frame.columns.get_loc("Adj Close")] *= ratio
    return _adj(frame, adj)


def _adj(frame: pd.DataFrame, adj: str) -> pd.DataFrame:
    return frame.drop(columns=["Adj Close"]) if adj == "none" else frame


DAY = str(walk().index[ROW].date())


@pytest.mark.parametrize("adj", ["none", "moves"])
@pytest.mark.parametrize("close_move, open_move", [(0.648, 0.70), (0.651, 0.69), (1.480, 1.40)],
                         ids=["earnings-crash-x0.648", "subscriber-loss-x0.651", "takeover-x1.480"])
def test_a_market_move_near_a_ratio_loads_with_a_warning_that_says_why(tmp_path, close_move,
                                                                        open_move, adj):
    data = load(tmp_path, market_move(close_move, open_move, adj), max_age=None).load()  # no raise
    [found] = findings(data, "splits")
    assert found["kind"] == "near-ratio move" and found["action"] == "warn"
    assert found["dates"] == [DAY]
    assert f"x{close_move:.3f}" in found["detail"] and "volume spike" in found["detail"]
    assert "treated as a market move" in found["detail"]


def test_the_crash_message_names_the_ratio_and_how_far_off_it_is(tmp_path):
    data = load(tmp_path, market_move(0.648, 0.70, "none"), max_age=None).load()
    [found] = findings(data, "splits")
    assert "near a 3:2 split" in found["detail"] and "-2.8%" in found["detail"]
    assert "volume spike" in found["detail"] and "fades within" in found["detail"]


@pytest.mark.parametrize("adj", ["none", "moves"])
@pytest.mark.parametrize("ratio, name", [(0.5, "2:1 split"), (2 / 3, "3:2 split"),
                                         (10.0, "1:10 reverse split")])
def test_a_true_unadjusted_split_is_called_and_stops_the_run(tmp_path, ratio, name, adj):
    with pytest.raises(UserError) as info:
        load(tmp_path, split(ratio, adj), max_age=None).load()
    assert DAY in info.value.message and name in info.value.message
    assert "unadjusted split" in info.value.message and "volume steps" in info.value.message
    assert "Adj Close" in info.value.hint


@pytest.mark.parametrize("adj", ["none", "moves"])
def test_a_called_split_is_repaired_and_a_market_move_never_is(tmp_path, adj):
    frame = split(2 / 3, adj)
    data = load(tmp_path, frame, splits="repair", max_age=None).load()
    [found] = findings(data, "splits")
    assert found["kind"] == "unadjusted split" and found["action"] == "repair"
    assert data.frame["Close"].iloc[ROW - 1] == pytest.approx(
        frame["Close"].iloc[ROW - 1] * 2 / 3, rel=1e-9)
    crash = market_move(0.648, 0.70, adj)
    data = load(tmp_path, crash, name="CRASH", splits="repair", max_age=None, bad_ticks="warn").load()
    np.testing.assert_allclose(data.frame["Close"].to_numpy(), crash["Close"].to_numpy())


def test_a_split_the_adj_close_adjusts_is_clean(tmp_path):
    data = load(tmp_path, split(2 / 3, "adjusts"), max_age=None).load()
    assert findings(data, "splits") == []


def test_a_step_in_adj_close_alone_is_no_split(tmp_path):
    """Close is continuous and Adj Close jumps x1.53 (NKE 1988-12-12 in Yahoo's file): a warning."""
    frame = traded()
    raw_move = frame["Close"].iloc[ROW] / frame["Close"].iloc[ROW - 1]
    frame.iloc[:ROW, frame.columns.get_loc("Adj Close")] /= 1.528 / raw_move
    data = load(tmp_path, frame, max_age=None).load()
    [found] = findings(data, "splits")
    assert found["action"] == "warn" and "Close itself moves" in found["detail"]
    assert "a step of the file's Adj Close, not a split" in found["detail"]


def test_a_universe_keeps_a_ticker_with_a_crash_near_a_ratio(make_cfg, tmp_path):
    folder = tmp_path / "prices"
    folder.mkdir()
    market_move(0.648, 0.70, "moves").to_csv(folder / "CRSH.csv")
    traded(seed=2).to_csv(folder / "CALM.csv")
    traded(seed=3).to_csv(folder / "EASY.csv")
    cfg = make_cfg("data=csv", f"data.path={folder}", "data.start=null", "data.end=null",
                   "data.quality.max_age=null")
    loaded, left_out = load_panel(cfg.data, ["CALM", "CRSH", "EASY"])
    assert sorted(loaded) == ["CALM", "CRSH", "EASY"] and left_out == {}
    assert [f["kind"] for f in findings(loaded["CRSH"], "splits")] == ["near-ratio move"]


def test_a_file_whose_adj_close_adjusts_other_splits_speaks_against_this_one(tmp_path):
    """Close unadjusted, Adj Close adjusting a 2:1 split on row 100: the crash on ROW is a move."""
    frame = market_move(0.648, 0.67, "moves")
    frame.iloc[100:, :4] /= 2  # the raw prices split; Adj Close stays continuous across it
    frame.iloc[100:, frame.columns.get_loc("Volume")] *= 2
    data = load(tmp_path, frame, max_age=None, bad_ticks="warn").load()
    [found] = findings(data, "splits")
    assert found["kind"] == "near-ratio move"
    assert f"adjusts the split(s) of {frame.index[100].date()} but not this move" in found["detail"]



def test_a_split_in_the_first_weeks_of_a_file_is_still_called(tmp_path):
    """Before the trailing volatility exists (21 bars), the weeks around the split measure it."""
    with pytest.raises(UserError, match="unadjusted split"):
        load(tmp_path, split(0.5, "none").iloc[ROW - 10:], max_age=None).load()



@pytest.mark.parametrize(("close_move", "open_move"), [(0.648, 0.70), (1.480, 1.40), (0.50, 0.55)])
def test_a_crash_or_jump_on_heavy_volume_is_never_held(tmp_path, close_move, open_move):
    """The causal bad-tick repair holds a far jump at the last close for a few bars; on heavy
    volume the move is a real trade, so its bars stay as they traded: no order can fill at a
    price that never existed (the bars up to the move decide it)."""
    frame = market_move(close_move, open_move, "moves")
    data = load(tmp_path, frame, max_age=None).load()
    kept = data.frame.loc[frame.index[ROW]:frame.index[ROW + 3], ["Open", "Close"]]
    expected = frame.loc[frame.index[ROW]:frame.index[ROW + 3], ["Open", "Close"]]
    np.testing.assert_allclose(kept.to_numpy(), expected.to_numpy())
    assert not [f for f in findings(data, "bad_ticks") if f["kind"] == "held jump that persisted"]
    if abs(np.log(close_move)) > quality().repair_move:  # far enough to have been held
        assert any("a real trade" in note for note in data.quality.notes)


def test_a_far_jump_on_ordinary_volume_is_still_held(tmp_path):
    frame = traded()
    frame.iloc[ROW:, :5] *= 0.5  # a halving with the day's volume as usual: maybe a bad feed
    data = load(tmp_path, frame, max_age=None, splits="warn").load()
    assert data.frame["Close"].iloc[ROW] == pytest.approx(frame["Close"].iloc[ROW - 1])
