"""Turn a raw price table into validated, adjusted daily bars, or say exactly what is wrong.

Repairable defects (empty rows, duplicated dates, unsorted rows) are repaired and counted; anything
else (missing columns, text in a price, non-positive prices) is refused with the
origin, the date and the column, because trading on silently patched prices is worse than stopping.
A zero Open (Yahoo's early years hold one for every unrecorded open) passes: the `zero_opens` data
check reports it with its dates and repairs or refuses it; so do a missing Open, High, Low or Close
cell and a High below Low (`quality.prices.check_cells`), as any other defect of one bar.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from backtests.data.base import PRICE_COLUMNS, no_bars
from backtests.errors import UserError, first_few

log = logging.getLogger(__name__)

ADJUSTMENT = "Adj Close / Close"

_ALIASES = {"date": "Date", "datetime": "Date", "timestamp": "Date", "open": "Open",
            "high": "High", "low": "Low", "close": "Close", "adj close": "Adj Close",
            "adj_close": "Adj Close", "adjclose": "Adj Close", "volume": "Volume"}


def clean_prices(raw: pd.DataFrame, origin: str, where: dict[str, list[str]] | None = None,
                 within: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None),
                 factor: dict[str, pd.Series] | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return (bars, repairs): adjusted OHLCV indexed by date, and counts of each repair made.

    `where`, when given, is filled with the dates of each repair (an empty row without a date is
    named by its data row), so a repair is never announced without saying where it was made.
    `within` (start, end) keeps only those dates before the values are checked: a defect in years
    the run does not use must not refuse the whole file. `factor`, when given and the table has
    Adj Close, gets {"Adj Close / Close": the factor per date}: the split check reads where the
    file's own adjustment stepped.
    """
    frame = _standard_columns(raw, origin)
    repairs = {"empty_rows_dropped": 0, "duplicate_dates_dropped": 0, "rows_out_of_order": 0}
    places: dict[str, list[str]] = {name: [] for name in repairs}

    value_columns = [c for c in frame.columns if c != "Date"]
    empty = frame[value_columns].isna().all(axis=1)
    repairs["empty_rows_dropped"] = int(empty.sum())
    places["empty_rows_dropped"] = [_row_name(frame, label) for label in frame.index[empty.to_numpy()]]
    frame = frame.loc[~empty]

    dates = _parse_dates(frame, origin)
    frame = frame.drop(columns=["Date"], errors="ignore").set_index(dates)
    frame.index.name = "Date"
    frame = _within(frame, origin, *within)
    frame = _numeric(frame, origin)

    if not frame.index.is_monotonic_increasing:
        dates = frame.index.to_numpy()
        late = dates[1:] < np.maximum.accumulate(dates)[:-1]
        repairs["rows_out_of_order"] = int(late.sum())
        places["rows_out_of_order"] = _days(frame.index[1:][late])
        frame = frame.sort_index(kind="stable")
    duplicated = frame.index.duplicated(keep="first")
    repairs["duplicate_dates_dropped"] = int(duplicated.sum())
    places["duplicate_dates_dropped"] = _days(frame.index[duplicated])
    frame = frame.loc[~duplicated]
    if where is not None:
        where.update({name: dates for name, dates in places.items() if dates})

    _check_values(frame, origin)
    if factor is not None and "Adj Close" in frame.columns:
        factor[ADJUSTMENT] = frame["Adj Close"] / frame["Close"]
    frame = _adjust(frame)
    _check_values(frame, origin)  # scaling by Adj Close / Close must not overflow or reach zero
    if frame.empty:
        raise UserError(f"{origin} holds no price rows", "point data.path at a file with daily bars")
    made = {name: count for name, count in repairs.items() if count}
    if made:
        log.warning("repaired %s: %s", origin, "; ".join(
            f"{k.replace('_', ' ')}: {v} ({first_few(places[k])})" for k, v in made.items()))
    return frame[PRICE_COLUMNS].astype("float64"), repairs


def _within(frame: pd.DataFrame, origin: str, start: pd.Timestamp | None,
            end: pd.Timestamp | None) -> pd.DataFrame:
    if (start is None and end is None) or frame.empty:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= frame.index >= start
    if end is not None:
        keep &= frame.index <= end
    if not keep.any():
        raise no_bars(f"rows in {origin}", start, end, frame.index.min(), frame.index.max())
    return frame.loc[keep]


def _days(index: pd.Index) -> list[str]:
    return [str(d.date()) for d in index]


def _row_name(frame: pd.DataFrame, label: object) -> str:
    """An empty row's date when it has one, else its data row number."""
    text = frame.at[label, "Date"] if "Date" in frame.columns else None
    if isinstance(text, str) and text.strip():
        return text.strip()
    return f"data row {label + 1}" if isinstance(label, (int, np.integer)) else f"row {label}"


def has_adj_close(raw: pd.DataFrame) -> bool:
    """True when the raw table has an Adj Close column (under any of its usual spellings)."""
    names = raw.columns.get_level_values(0) if isinstance(raw.columns, pd.MultiIndex) else raw.columns
    return any(_ALIASES.get(str(c).strip().lower()) == "Adj Close" for c in names)


def _standard_columns(raw: pd.DataFrame, origin: str) -> pd.DataFrame:
    frame = raw.copy()
    if isinstance(frame.columns, pd.MultiIndex):  # yfinance's (field, ticker) layout
        frame.columns = frame.columns.get_level_values(0)
    if frame.index.name is not None and str(frame.index.name).strip().lower() in _ALIASES:
        frame = frame.reset_index()
    frame.columns = [_ALIASES.get(str(c).strip().lower(), str(c).strip()) for c in frame.columns]
    missing = [c for c in ["Date", *PRICE_COLUMNS] if c not in frame.columns]
    if "Date" in frame.columns and "Close" in frame.columns and {"Open", "High", "Low"} <= set(missing):
        raise UserError(
            f"{origin} has closes only (no {', '.join(missing)}): a backtest fills its orders at "
            "the next bar's Open, the default features range (High, Low) and volume_z (Volume) "
            "need the rest of the bar; only log_return, volatility, rsi, macd and sma_gap read "
            "Close alone",
            "export full daily bars: Date,Open,High,Low,Close,Volume (Yahoo's CSV has them)")
    if missing:
        raise UserError(
            f"{origin} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, raw.columns))}",
            "a price file needs Date,Open,High,Low,Close,Volume (Adj Close optional)",
        )
    keep = ["Date", *PRICE_COLUMNS] + (["Adj Close"] if "Adj Close" in frame.columns else [])
    return frame[keep]


def _parse_dates(frame: pd.DataFrame, origin: str) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(frame["Date"], errors="coerce", utc=False)
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        label = frame.index[row]
        where = f"data row {label + 1}" if isinstance(label, (int, np.integer)) else f"row {label}"
        raise UserError(f"{origin}: {where} has Date {frame['Date'].iloc[row]!r}, not a date",
                        "fix or delete that row")
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.normalize()


def _numeric(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        values = pd.to_numeric(out[column], errors="coerce")
        bad = values.isna() & out[column].notna()
        if bad.any():
            date = out.index[bad.to_numpy()][0]
            raise UserError(
                f"{origin}: {column} on {date.date()} is {out[column][bad].iloc[0]!r}, not a number",
                "fix or delete that row",
            )
        out[column] = values.astype("float64")
    return out


def _check_values(frame: pd.DataFrame, origin: str) -> None:
    prices = [c for c in ("Open", "High", "Low", "Close", "Adj Close") if c in frame.columns]
    values = [*prices, "Volume"]
    # A missing Open, High, Low or Close (an Adj Close missing leaves the adjusted bar without a
    # Close), and a High below Low, are the data-quality policy's (quality.prices.check_cells:
    # repaired or reported with their dates, as any defect of one bar).
    cells = [c for c in values if c not in ("Open", "High", "Low", "Close", "Adj Close")]
    _refuse(origin, frame[cells].isna(), "is missing", "fill it in or delete the row")
    _refuse(origin, np.isinf(frame[values]), "is not a finite number", "fix or delete that row")
    nonpositive = frame[prices] <= 0
    if "Open" in prices:  # a zero Open is an unrecorded one: the zero_opens check reports it
        nonpositive["Open"] = frame["Open"] < 0
    _refuse(origin, nonpositive, "is not a positive price", "fix or delete that row")
    _refuse(origin, frame[["Volume"]] < 0, "is negative", "fix or delete that row")


def _refuse(origin: str, mask: pd.DataFrame, problem: str, hint: str) -> None:
    hits = mask.to_numpy()
    if not hits.any():
        return
    row, col = np.argwhere(hits)[0]
    date, column = mask.index[row].date(), mask.columns[col]
    count = int(hits.any(axis=1).sum())
    more = f" ({count} rows in all)" if count > 1 else ""
    raise UserError(f"{origin}: {column} on {date} {problem}{more}", hint)


def _adjust(frame: pd.DataFrame) -> pd.DataFrame:
    """Scale Open/High/Low/Close by Adj Close / Close so prices carry splits and dividends."""
    if "Adj Close" not in frame.columns:
        return frame
    out = frame.copy()
    factor = out["Adj Close"] / out["Close"]
    for column in ("Open", "High", "Low", "Close"):
        out[column] = out[column] * factor
    return out.drop(columns=["Adj Close"])
