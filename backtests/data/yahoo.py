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
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from backtests.atomic import write_csv, write_json
from backtests.data.base import PRICE_COLUMNS, MarketData, PriceSource
from backtests.data.clean import clean_prices
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

    def __init__(self, ticker: str, cache_dir: str, start: str | None = None, end: str | None = None,
                 max_age_hours: float = 24.0, retries: int = 2, backoff_seconds: float = 1.0) -> None:
        super().__init__(check_ticker(ticker), start, end)
        self.cache_dir = Path(cache_dir)
        self.max_age_hours = max_age_hours
        self.retries = retries
        self.backoff_seconds = backoff_seconds

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
        downloaded, reason = self._try_download()
        if downloaded is not None:
            write_csv(self.cache_file, downloaded, index_label="Date")
            write_json(self.meta_file, {"ticker": self.ticker, "rows": len(downloaded),
                                        "last_date": downloaded.index[-1].date(),
                                        "fetched_at": datetime.now(timezone.utc)})
            return self._market(downloaded, "yfinance")
        if cached is not None:
            log.warning("prices: download of %s failed (%s); using the cache, whose last bar is %s",
                        self.ticker, reason, cached.index[-1].date())
            return self._market(cached, "yfinance-cache")
        raise UserError(
            f"could not download {self.ticker} from Yahoo Finance ({reason}) and there is no cached "
            f"copy in {self.cache_dir}",
            "check the network and the symbol, or run offline with data=csv data.path=DIR_OR_FILE "
            "or data=synthetic",
        )

    def _market(self, frame: pd.DataFrame, source: str) -> MarketData:
        return MarketData(frame=frame, source=source, ticker=self.ticker)

    def _try_download(self) -> tuple[pd.DataFrame | None, str]:
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
                frame, _ = clean_prices(raw, f"yfinance download of {self.ticker}")
            except UserError as exc:
                reason = f"unusable answer: {exc.message}"
                continue
            return frame, ""
        return None, reason

    def _read_cache(self) -> pd.DataFrame | None:
        if not self.cache_file.is_file():
            return None
        try:
            raw = pd.read_csv(self.cache_file, dtype=str)
            frame, _ = clean_prices(raw, str(self.cache_file))
        except (UserError, ValueError, pd.errors.ParserError) as exc:
            log.warning("prices: ignoring unreadable cache %s (%s)", self.cache_file, exc)
            return None
        return frame[PRICE_COLUMNS]

    def _fresh(self, cached: pd.DataFrame) -> bool:
        if self.end is not None and cached.index[-1] >= self.end:
            return True
        try:
            meta = json.loads(self.meta_file.read_text())
            fetched = datetime.fromisoformat(meta["fetched_at"])
        except (OSError, ValueError, KeyError):
            return False
        return (datetime.now(timezone.utc) - fetched).total_seconds() < self.max_age_hours * 3600
