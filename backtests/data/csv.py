"""Daily bars from a CSV file: the Yahoo layout (with Adj Close) or plain OHLCV."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from backtests.data.base import MarketData, PriceSource
from backtests.data.clean import clean_prices
from backtests.data.symbols import check_ticker
from backtests.errors import UserError


class CsvSource(PriceSource):
    """Reads `path` itself, or `<path>/<TICKER>.csv` when `path` is a folder."""

    def __init__(self, ticker: str, path: str, start: str | None = None, end: str | None = None) -> None:
        super().__init__(check_ticker(ticker), start, end)
        self.path = Path(path).expanduser()

    def file(self) -> Path:
        if self.path.is_dir():
            candidate = self.path / f"{self.ticker}.csv"
            if not candidate.is_file():
                known = sorted(p.stem for p in self.path.glob("*.csv"))[:12]
                raise UserError(
                    f"no {self.ticker}.csv in {self.path}",
                    f"tickers there: {', '.join(known) or 'none'}",
                )
            return candidate
        if not self.path.is_file():
            raise UserError(f"data.path {self.path} does not exist",
                            "give a CSV file or a folder holding <TICKER>.csv")
        return self.path

    def _load(self) -> MarketData:
        file = self.file()
        try:
            raw = pd.read_csv(file, dtype=str, keep_default_na=True)
        except pd.errors.EmptyDataError as exc:
            raise UserError(f"{file} is empty", "point data.path at a file with daily bars") from exc
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise UserError(f"{file} is not a readable CSV ({type(exc).__name__})",
                            "export the prices as comma-separated text") from exc
        frame, repairs = clean_prices(raw, str(file))
        return MarketData(frame=frame, source=f"csv:{file}", ticker=self.ticker, repairs=repairs)
