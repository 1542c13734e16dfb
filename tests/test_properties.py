"""Property-based tests: the price cleaner and the walk-forward splitter hold their promises for any input.

Example counts are kept modest so the suite stays fast; hypothesis still tries the edge cases
(one row, everything duplicated, gap larger than a fold ...) first.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.data.clean import clean_prices
from backtests.data.quality import check_quality
from backtests.errors import UserError
from forecasting.splits import walk_forward_folds
from forecasting.windows import Windows
from tests.builders import build

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COLUMNS = ["Date", "Open", "High", "Low", "Close", "Volume"]
DAYS = pd.bdate_range("2020-01-01", periods=200)


@st.composite
def bars(draw, max_rows: int = 25) -> list[dict]:
    """Valid OHLCV rows on distinct random business days (in random order)."""
    n = draw(st.integers(1, max_rows))
    days = draw(st.lists(st.integers(0, len(DAYS) - 1), min_size=n, max_size=n, unique=True))
    price = st.floats(0.01, 1e5, allow_nan=False, allow_infinity=False)
    rows = []
    for day in days:
        open_, close = draw(price), draw(price)
        low = min(open_, close) * draw(st.floats(0.5, 1.0))
        high = max(open_, close) * draw(st.floats(1.0, 2.0))
        rows.append({"Date": DAYS[day].strftime("%Y-%m-%d"), "Open": open_, "High": high,
                     "Low": low, "Close": close, "Volume": draw(st.floats(0, 1e9))})
    return rows


def as_file(rows: list[dict]) -> pd.DataFrame:
    """What `pd.read_csv(dtype=str)` gives for these rows: text cells, NaN for empty ones."""
    cells = [[None if row[c] is None else repr(row[c]) if isinstance(row[c], float) else str(row[c])
              for c in COLUMNS] for row in rows]
    return pd.DataFrame(cells, columns=COLUMNS, dtype=object)


def out_of_order(dates: list[str]) -> int:
    """Rows dated before some row above them."""
    count, latest = 0, None
    for date in dates:
        if latest is not None and date < latest:
            count += 1
        latest = date if latest is None else max(latest, date)
    return count


@FAST
@given(rows=bars(), data=st.data())
def test_cleaner_repairs_and_counts_what_it_repairs(rows, data):
    duplicates = data.draw(st.lists(st.sampled_from(range(len(rows))), max_size=5))
    file_rows = list(rows)
    for source in duplicates:  # a later copy of a date, with other prices: dropped, first kept
        copy = dict(rows[source], Open=rows[source]["Open"] * 1.5 + 1, High=rows[source]["High"] * 3 + 2)
        file_rows.insert(data.draw(st.integers(0, len(file_rows))), copy)
    # Duplicates must come after their first occurrence to be the ones dropped.
    first_seen: dict[str, dict] = {}
    for row in file_rows:
        first_seen.setdefault(row["Date"], row)
    empties = data.draw(st.integers(0, 4))
    for _ in range(empties):
        file_rows.insert(data.draw(st.integers(0, len(file_rows))), dict.fromkeys(COLUMNS))

    frame, repairs = clean_prices(as_file(file_rows), "generated.csv")

    dated = [r["Date"] for r in file_rows if r["Date"] is not None]
    assert repairs == {"empty_rows_dropped": empties,
                       "duplicate_dates_dropped": len(dated) - len(set(dated)),
                       "rows_out_of_order": out_of_order(dated)}
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert len(frame) == len(set(dated))
    assert not frame.isna().to_numpy().any()
    assert (frame[["Open", "High", "Low", "Close"]] > 0).to_numpy().all()
    assert (frame["High"] >= frame["Low"]).all() and (frame["Volume"] >= 0).all()
    for date, row in first_seen.items():  # the first row of each date survives, values exact
        kept = frame.loc[pd.Timestamp(date)]
        assert [kept[c] for c in COLUMNS[1:]] == [row[c] for c in COLUMNS[1:]]


@FAST
@given(rows=bars(), data=st.data())
def test_high_below_low_never_gets_past_the_data_checks_unreported(rows, data):
    """The cleaner hands an inverted bar to the quality policy (issue 23: one bad bar no longer
    drops a whole ticker), which mends it from the bar's own prices and names its date."""
    victim = data.draw(st.sampled_from(range(len(rows))))
    row = rows[victim]
    row["High"] = row["Low"] * data.draw(st.floats(0.1, 0.999))
    frame, _ = clean_prices(as_file(rows), "generated.csv")
    policy = build("data/quality/default", gaps="off", stale="off", dividends="off", cache_dir="unused")
    mended, report = check_quality(frame, policy, "generated.csv", adjusted=None)
    assert (mended["High"] >= mended["Low"]).all()
    dated = [d for f in report.findings if f.check == "impossible_bars" for d in f.dates]
    assert pd.Timestamp(row["Date"]) in [pd.Timestamp(d) for d in dated]


@FAST
@given(rows=bars(), data=st.data())
def test_cleaner_refuses_non_positive_prices_naming_date_and_column(rows, data):
    victim = data.draw(st.sampled_from(range(len(rows))))
    column = data.draw(st.sampled_from(["Open", "Close", "Low"]))
    # a zero Open is an unrecorded one: it passes to the zero_opens data check (test_quality.py)
    values = [-1.0, -1e-9] if column == "Open" else [0.0, -1.0, -1e-9]
    rows[victim][column] = data.draw(st.sampled_from(values))
    with pytest.raises(UserError) as info:
        clean_prices(as_file(rows), "generated.csv")
    assert rows[victim]["Date"] in info.value.message and column in info.value.message


splits = st.fixed_dictionaries({
    "samples": st.integers(0, 400), "initial_train": st.integers(1, 120),
    "retrain_every": st.integers(1, 60), "gap": st.integers(1, 12),
    "mode": st.sampled_from(["expanding", "sliding"]),
})


@settings(max_examples=150, deadline=None)
@given(spec=splits)
def test_walk_forward_folds_predict_each_bar_once_from_the_past_only(spec):
    folds = walk_forward_folds(**spec)
    first = spec["initial_train"] + spec["gap"] - 1
    predicted = [i for f in folds for i in range(f.test_start, f.test_end)]
    assert predicted == list(range(first, spec["samples"]))  # every bar once, in order
    for fold in folds:
        train = set(range(fold.train_start, fold.train_end))
        test = set(range(fold.test_start, fold.test_end))
        assert train and test and not train & test
        # Sample j's target is known at the close of j + 1: the last one used sits `gap` bars back.
        assert max(train) + spec["gap"] <= fold.test_start
        assert fold.train_end - fold.train_start <= (
            fold.train_end if spec["mode"] == "expanding" else spec["initial_train"])
        if spec["mode"] == "expanding":
            assert fold.train_start == 0


@settings(max_examples=80, deadline=None)
@given(spec=splits, more=st.integers(1, 200))
def test_more_data_never_moves_an_earlier_fold(spec, more):
    shorter = walk_forward_folds(**spec)
    longer = walk_forward_folds(**{**spec, "samples": spec["samples"] + more})
    for a, b in zip(shorter, longer):
        assert (a.train_start, a.train_end, a.test_start) == (b.train_start, b.train_end, b.test_start)
        assert a.test_end <= b.test_end


@pytest.mark.parametrize("bad", [{"initial_train": 0}, {"retrain_every": 0}, {"gap": 0},
                                 {"mode": "rolling"}])
def test_invalid_schedules_are_refused(bad):
    spec = {"samples": 100, "initial_train": 10, "retrain_every": 5, "gap": 1, "mode": "expanding"}
    with pytest.raises(ValueError):
        walk_forward_folds(**{**spec, **bad})


class Recorder:
    """A forecaster that remembers what each fit saw and predicts the sample's own position."""

    uses_validation = True

    def __init__(self) -> None:
        self.fits: list[pd.DatetimeIndex] = []

    def fit(self, train: Windows, seed: int, warm_start: bool = False, validation=None):
        seen = train.index if validation is None else train.index.append(validation.index)
        self.fits.append(seen)
        return self

    def predict(self, windows: Windows) -> pd.Series:
        return pd.Series(np.arange(len(windows), dtype=float), index=windows.index)


@settings(max_examples=40, deadline=None)
@given(spec=splits.filter(lambda s: s["samples"] >= s["initial_train"] + s["gap"]),
       val_fraction=st.sampled_from([0.0, 0.3]), warm=st.booleans())
def test_walk_forward_run_trains_only_on_dates_before_each_prediction(spec, val_fraction, warm):
    n = spec["samples"]
    index = pd.bdate_range("2015-01-01", periods=n)
    y = np.linspace(-0.01, 0.01, n)
    windows = Windows(X=np.zeros((n, 2, 1), dtype=np.float32), y=y, index=index)
    walk = build("walkforward/default", mode=spec["mode"], initial_train=spec["initial_train"],
                       retrain_every=spec["retrain_every"], gap=spec["gap"], warm_start=warm,
                       val_fraction=val_fraction)
    forecaster = Recorder()
    result = walk.run(forecaster, windows, seed=0, progress=False)
    assert result.index.is_unique and len(result) == n - spec["initial_train"] - spec["gap"] + 1
    for fold_number, seen in enumerate(forecaster.fits):
        predicted = result.index[result["fold"] == fold_number]
        # Every date a fit saw (training and validation tail) is at least `gap` bars before the
        # first date it predicts.
        assert index.get_loc(seen.max()) + spec["gap"] <= index.get_loc(predicted.min())
