"""Daily bars from Yahoo Finance via yfinance, with an on-disk cache that later runs reuse.

The cache holds the ticker's full adjusted history (one CSV plus a JSON note of when it was
fetched), written atomically. A stale cache is extended by fetching only the sessions after it (with
a few cached ones, which must agree); when the provider re-adjusted its history (a dividend or
split), the whole series is fetched again, and new rows that contradict the cache are refused. A
failed, partial or empty download never replaces a good cache file: the run falls back to the cache
with a warning naming its last date, or stops with a clear message.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from backtests.atomic import write_csv, write_json
from backtests.data.base import PRICE_COLUMNS, MarketData, PriceSource
from backtests.data.clean import clean_prices
from backtests.data.quality import QualityPolicy
from backtests.data.symbols import check_ticker, safe_name
from backtests.errors import UserError, first_few

log = logging.getLogger(__name__)


OVERLAP = 5  # cached sessions fetched again with the new ones, to check the provider still agrees
ROUNDING = 1e-6  # relative: more than this between two answers for one bar is a revision


def _download(ticker: str, start: str | None = None) -> pd.DataFrame:
    """One call to yfinance: the whole history, or the sessions from `start` on (tests replace
    this function; nothing else touches the network)."""
    import yfinance as yf

    quiet = logging.getLogger("yfinance")
    level, quiet.level = quiet.level, logging.CRITICAL
    span = {"period": "max"} if start is None else {"start": start}
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            # State the defaults explicitly: they have changed between yfinance releases.
            return yf.download(ticker, **span, interval="1d", auto_adjust=True, actions=False,
                               multi_level_index=False, progress=False, threads=False)
    finally:
        quiet.setLevel(level)


class YahooSource(PriceSource):
    """Downloads the full daily history once, caches it, and cuts it to [start, end]."""

    bounds = {**PriceSource.bounds, "max_age_hours": "number >= 0", "retries": "int >= 0",
              "backoff_seconds": "number >= 0"}

    def __init__(self, ticker: str, cache_dir: str, *, start: str | None, end: str | None,
                 max_age_hours: float, retries: int, backoff_seconds: float,
                 quality: QualityPolicy) -> None:
        super().__init__(check_ticker(ticker), start=start, end=end, quality=quality)
        self.cache_dir = Path(cache_dir)
        self.max_age_hours = max_age_hours
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._repair_dates: dict[str, list[str]] = {}  # where the last download needed clean-up

    @property
    def cache_file(self) -> Path:
        return self.cache_dir / f"{safe_name(self.ticker)}.csv"

    @property
    def meta_file(self) -> Path:
        return self.cache_dir / f"{safe_name(self.ticker)}.json"

    def _load(self) -> MarketData:
        cached = self._read_cache()
        if cached is not None and self._fresh(cached):
            log.info("prices: using cached %s (%d bars to %s)", self.ticker, len(cached),
                     cached.index[-1].date())
            return self._market(cached, "yfinance-cache")
        appended = self._try_append(cached) if cached is not None else None
        if appended is not None:  # the cached rows as they were: their repairs stand
            downloaded, repairs, reason = appended, self._meta().get("repairs") or {}, ""
            self._repair_dates = self._meta().get("repair_dates") or {}
        else:
            downloaded, repairs, reason = self._try_download()
        if downloaded is not None and cached is not None:
            shortfall = _shortfall(downloaded, cached)
            if shortfall:
                downloaded, reason = None, f"the answer {shortfall}; keeping the cache"
        if downloaded is not None:
            # The CSV first, the note second: the note counts only for a CSV of its rows and last date.
            write_csv(self.cache_file, downloaded, index_label="Date")
            write_json(self.meta_file, {"ticker": self.ticker, "rows": len(downloaded),
                                        "last_date": downloaded.index[-1].date(),
                                        "fetched_at": datetime.now(UTC),
                                        "repairs": repairs, "repair_dates": self._repair_dates})
            return self._market(downloaded, "yfinance", repairs)
        if cached is not None:
            log.warning("prices: could not refresh %s (%s); using the cache, whose last bar is %s",
                        self.ticker, reason, cached.index[-1].date())
            return self._market(cached, "yfinance-cache")
        raise UserError(
            f"could not download {self.ticker} from Yahoo Finance ({reason}) and there is no cached "
            f"copy in {self.cache_dir}",
            "check the network and the symbol, or run offline with data=csv data.path=DIR_OR_FILE "
            "or data=synthetic",
        )

    def _market(self, frame: pd.DataFrame, source: str,
                repairs: dict[str, int] | None = None) -> MarketData:
        dates = self._repair_dates
        if repairs is None:  # a cached copy: the repairs made when it was downloaded
            meta = self._meta()
            same = meta.get("rows") == len(frame) and meta.get("last_date") == str(frame.index[-1].date())
            repairs = (meta.get("repairs") or {}) if same else {}
            dates = (meta.get("repair_dates") or {}) if same else {}
        return MarketData(frame=frame, source=source, ticker=self.ticker, repairs=dict(repairs),
                          repair_dates=dict(dates))

    def _meta(self) -> dict:
        try:
            meta = json.loads(self.meta_file.read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def _try_append(self, cached: pd.DataFrame) -> pd.DataFrame | None:
        """The cache with the sessions after its last one appended, fetched alone (one request
        for the last OVERLAP cached sessions and what followed), or None when the whole series
        must be fetched again: no usable answer, or the provider re-adjusted its history (said).

        New rows that contradict the cache are refused (UserError naming the dates), the cache
        left as it was: a date before the last cached one among new rows, one date twice with
        other prices, a cached bar revised by more than rounding other than by a re-adjustment
        of the whole history.
        """
        since = cached.index[max(0, len(cached) - OVERLAP)]
        try:
            raw = _download(self.ticker, start=str(since.date()))
        except Exception as exc:  # noqa: BLE001 (yfinance raises network errors of many types)
            log.info("prices: could not fetch %s's new sessions alone (%s: %s); fetching its "
                     "whole history", self.ticker, type(exc).__name__, exc)
            return None
        if raw is None or raw.dropna(how="all").empty:
            return None
        origin = f"yfinance sessions of {self.ticker} from {since.date()}"
        fresh = _new_rows(raw, origin)
        overlap = cached.index.intersection(fresh.index)
        if overlap.empty:
            log.info("prices: %s's new sessions do not overlap the cache; fetching its whole "
                     "history", self.ticker)
            return None
        span = cached.index[cached.index >= since]
        moved = span.symmetric_difference(fresh.index[fresh.index <= cached.index[-1]])
        if len(moved):
            log.warning("prices: Yahoo's sessions of %s changed (%s added or removed); fetching "
                        "the whole series again", self.ticker, first_few(_days(moved)))
            return None
        revised = _revision(cached.loc[overlap, PRICE_COLUMNS], fresh.loc[overlap, PRICE_COLUMNS])
        if revised == "readjusted":
            log.warning("prices: Yahoo re-adjusted %s's history (a dividend or split: the cached "
                        "bars from %s differ from its answer by one factor); fetching the whole "
                        "series again", self.ticker, overlap[0].date())
            return None
        if revised:
            raise UserError(
                f"Yahoo's answer for {self.ticker} revises cached bars by more than rounding, "
                f"not by one re-adjustment factor: {revised}; the cache was left as it was",
                f"if the provider corrected those bars, delete {self.cache_file} to fetch the "
                "whole history again; otherwise rerun later")
        new = fresh.loc[fresh.index > cached.index[-1], PRICE_COLUMNS]
        log.info("prices: appended %d new %s sessions to the cache (to %s); the %d overlapping "
                 "cached sessions agree", len(new), self.ticker,
                 (new.index[-1] if len(new) else cached.index[-1]).date(), len(overlap))
        return pd.concat([cached, new])

    def _try_download(self) -> tuple[pd.DataFrame | None, dict[str, int], str]:
        reason = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                raw = _download(self.ticker)
            except Exception as exc:  # yfinance raises network errors of many types
                reason = f"{type(exc).__name__}: {exc}"
                continue
            if raw is None or raw.dropna(how="all").empty:
                reason = "empty answer: unknown symbol or no network"
                continue
            try:
                self._repair_dates = {}
                frame, repairs = clean_prices(raw, f"yfinance download of {self.ticker}",
                                              self._repair_dates)
            except UserError as exc:
                reason = f"unusable answer: {exc.message}"
                continue
            return frame, repairs, ""
        return None, {}, reason

    def _read_cache(self) -> pd.DataFrame | None:
        if not self.cache_file.is_file():
            return None
        try:
            raw = pd.read_csv(self.cache_file, dtype=str)
            frame, _ = clean_prices(raw, str(self.cache_file))
        except (UserError, ValueError, OSError, pd.errors.ParserError) as exc:
            log.warning("prices: ignoring unreadable cache %s (%s)", self.cache_file, exc)
            return None
        return frame[PRICE_COLUMNS]

    def _fresh(self, cached: pd.DataFrame) -> bool:
        if self.end is not None and cached.index[-1] >= self.end:
            return True
        meta = self._meta()
        if meta.get("rows") != len(cached) or meta.get("last_date") != str(cached.index[-1].date()):
            return False  # the note describes another download (a writer raced us): ask again
        try:
            fetched = datetime.fromisoformat(meta["fetched_at"])
        except (KeyError, TypeError, ValueError):
            return False
        return (datetime.now(UTC) - fetched).total_seconds() < self.max_age_hours * 3600


def _shortfall(downloaded: pd.DataFrame, cached: pd.DataFrame) -> str:
    """Why a download is worse than the cache (empty if it is not): a partial answer never wins.

    A good answer covers at least the cached dates: it starts no later, ends no earlier and has
    no fewer rows. Revised values on the same dates (new dividend adjustments) are fine.
    """
    if downloaded.index[-1] < cached.index[-1]:
        return (f"ends on {downloaded.index[-1].date()}, before the cached copy "
                f"({cached.index[-1].date()})")
    if downloaded.index[0] > cached.index[0]:
        return (f"starts on {downloaded.index[0].date()}, after the cached copy "
                f"({cached.index[0].date()})")
    if len(downloaded) < len(cached):
        return f"has {len(downloaded)} bars, fewer than the cached {len(cached)}"
    return ""


def _new_rows(raw: pd.DataFrame, origin: str) -> pd.DataFrame:
    """The fetched rows as bars, refused (UserError naming the dates) if they contradict
    themselves: dates out of order, or one date twice with other prices."""
    table = raw.reset_index() if "Date" not in raw.columns else raw
    dates = pd.to_datetime(table["Date"] if "Date" in table.columns else table.iloc[:, 0],
                           errors="coerce")
    late = dates.to_numpy()[1:] < pd.Series(dates).cummax().to_numpy()[:-1]
    if late.any():
        raise UserError(
            f"{origin}: new rows out of date order ({first_few(_days(dates[1:][late]))} after "
            "later dates); the cache was left as it was",
            "rerun later (the provider's answer was inconsistent), or delete the cached file to "
            "fetch the whole history again")
    frame, _ = clean_prices(raw, origin)
    values = table.assign(Date=dates).drop_duplicates()
    twice = values["Date"][values["Date"].duplicated()]
    if len(twice):
        raise UserError(
            f"{origin}: {first_few(_days(twice))} given twice with different prices; the cache "
            "was left as it was",
            "rerun later (the provider's answer was inconsistent), or delete the cached file to "
            "fetch the whole history again")
    return frame


def _days(dates: pd.Series | pd.DatetimeIndex) -> list[str]:
    return [str(pd.Timestamp(d).date()) for d in dates]


def _revision(cached: pd.DataFrame, fresh: pd.DataFrame) -> str:
    """How the provider's answer differs from the cache on shared dates: "" (rounding only),
    "readjusted" (every price by one factor: a new dividend or split adjustment) or the dates and
    columns revised otherwise."""
    prices = ["Open", "High", "Low", "Close"]
    ratio = (fresh[prices] / cached[prices]).to_numpy()
    if np.allclose(ratio, 1.0, rtol=0, atol=ROUNDING):
        return ""
    if np.allclose(ratio, np.nanmedian(ratio), rtol=0, atol=ROUNDING * 10):
        return "readjusted"
    bad = ~np.isclose(ratio, 1.0, rtol=0, atol=ROUNDING)
    rows = [f"{cached.index[r].date()} {prices[c]} {cached.iat[r, cached.columns.get_loc(prices[c])]:.6g}"
            f" -> {fresh.iat[r, fresh.columns.get_loc(prices[c])]:.6g}"
            for r, c in zip(*np.nonzero(bad), strict=True)]
    return first_few(rows)
