"""Daily bars from Yahoo Finance via yfinance, with an on-disk cache that later runs reuse.

The cache holds the ticker's full adjusted history (one CSV plus a JSON note of when it was fetched),
written atomically. A failed, partial or empty download never replaces a good cache file: the run
falls back to the cache with a warning naming its last date, or stops with a clear message.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from backtests.atomic import write_csv, write_json
from backtests.data.base import PRICE_COLUMNS, MarketData, PriceSource
from backtests.data.clean import clean_prices
from backtests.data.quality import QualityPolicy
from backtests.data.symbols import check_ticker, safe_name
from backtests.errors import UserError

log = logging.getLogger(__name__)


def _download(ticker: str) -> pd.DataFrame:
    """One call to yfinance (tests replace this function; nothing else touches the network)."""
    import yfinance as yf

    quiet = logging.getLogger("yfinance")
    level, quiet.level = quiet.level, logging.CRITICAL
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            # State the defaults explicitly: they have changed between yfinance releases.
            return yf.download(ticker, period="max", interval="1d", auto_adjust=True, actions=False,
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
