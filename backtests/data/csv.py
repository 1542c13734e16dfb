"""Daily bars from a CSV file: the Yahoo layout (with Adj Close) or plain OHLCV."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtests.data.base import MarketData, PriceSource
from backtests.data.clean import ADJUSTMENT, clean_prices, has_adj_close
from backtests.data.quality import QualityPolicy
from backtests.data.symbols import check_ticker
from backtests.errors import UserError, first_few

_SNIFF_BYTES = 1 << 16


def _refuse_binary(file: Path) -> None:
    """Refuse a file that is not text (a spreadsheet, an archive, random bytes) by its first bytes.

    pandas would otherwise report a decoding error, or read NUL-riddled garbage as odd columns.
    """
    try:
        with open(file, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise UserError(f"cannot read {file} ({exc.strerror or exc})",
                        "check the file's permissions") from exc
    offset = head.find(b"\x00")
    if offset < 0:
        try:
            head.decode("utf-8")
            return
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4:  # a character cut by the sniff window: text after all
                return
            offset = exc.start
    raise UserError(f"{file} is not a text CSV file (binary byte 0x{head[offset]:02x} at byte {offset})",
                    "export the prices as comma-separated UTF-8 text with a Date,Open,High,Low,"
                    "Close,Volume header")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class CsvSource(PriceSource):
    """Reads `path` itself, or `<path>/<TICKER>.csv` when `path` is a folder."""

    bounds = PriceSource.bounds

    def __init__(self, ticker: str, path: str, *, start: str | None, end: str | None,
                 quality: QualityPolicy) -> None:
        super().__init__(check_ticker(ticker), start=start, end=end, quality=quality)
        self.path = Path(path).expanduser()
        check_file_ticker(self.ticker, self.path)

    def file(self) -> Path:
        if self.path.is_dir():
            candidate = self.path / f"{self.ticker}.csv"
            if not candidate.is_file():
                known = sorted(p.stem for p in self.path.glob("*.csv"))
                raise UserError(
                    f"no {self.ticker}.csv in {self.path}",
                    f"tickers there: {first_few(known, 12) or 'none'}",
                )
            return candidate
        if not self.path.is_file():
            raise UserError(f"data.path {self.path} does not exist",
                            "give a CSV file or a folder holding <TICKER>.csv")
        return self.path

    def _load(self) -> MarketData:
        file = self.file()
        _refuse_binary(file)
        try:
            raw = pd.read_csv(file, dtype=str, keep_default_na=True)
        except pd.errors.EmptyDataError as exc:
            raise UserError(f"{file} is empty", "point data.path at a file with daily bars") from exc
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise UserError(f"{file} is not a readable CSV ({_first_line(exc)})",
                            "export the prices as comma-separated text") from exc
        except OSError as exc:
            raise UserError(f"cannot read {file} ({exc.strerror or exc})",
                            "check the file's permissions") from exc
        where: dict[str, list[str]] = {}
        factor: dict[str, pd.Series] = {}
        frame, repairs = clean_prices(raw, str(file), where, within=(self.start, self.end),
                                      factor=factor)
        return MarketData(frame=frame, source=f"csv:{file}", ticker=self.ticker, repairs=repairs,
                          repair_dates=where, adjusted=has_adj_close(raw),
                          factor=factor.get(ADJUSTMENT))


def file_ticker(path: Path) -> str | None:
    """The ticker a `.csv` file's name says (`TSLA.csv` -> TSLA), or None for a folder or odd name.

    Only an upper-case stem counts (the `<TICKER>.csv` layout of a price folder): `prices.csv` or
    `msft_2020.csv` name no ticker, so they neither set nor contradict one.
    """
    if path.suffix.lower() != ".csv" or path.is_dir() or path.stem != path.stem.upper():
        return None
    try:
        return check_ticker(path.stem)
    except UserError:
        return None


def check_file_ticker(ticker: str, path: Path) -> None:
    """Refuse a ticker that contradicts the file it reads: GOOG must not label MSFT.csv's prices."""
    stem = file_ticker(path)
    if stem is not None and stem != check_ticker(ticker):
        raise UserError(f"ticker={ticker} but data.path is {path.name}, whose name says {stem}",
                        f"leave ticker out (it is taken from the file name), give ticker={stem}, "
                        "or point data.path at the folder holding the ticker's file")
