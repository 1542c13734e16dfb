"""The trade stage's record: what either engine traded, as the record stage and the audit read it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from backtests.pipeline.engine import BacktestResult
from backtests.pipeline.portfolio import PortfolioResult


@dataclass
class Traded:
    """The metrics blocks (`strategy`, `benchmark`, a portfolio's `portfolio`), returns.csv's daily
    `strategy` and `benchmark` returns, the trades, and each engine's own result."""

    metrics: dict[str, Any]
    returns: pd.DataFrame
    trades: pd.DataFrame
    name: str                                     # the strategy's class name
    ticker: BacktestResult | None = None          # the single-ticker engine's strategy ...
    ticker_benchmark: BacktestResult | None = None  # ... and its buy-and-hold
    book: PortfolioResult | None = None           # the portfolio engine's strategy ...
    book_benchmark: PortfolioResult | None = None  # ... and its equal-weight benchmark

    def by_date(self) -> dict[str, pd.DataFrame]:
        """What was decided and held at each close (the audit compares these up to a cutoff):
        a book's targets and weights, a ticker's position."""
        if self.book is not None:
            # The decisions by the close they were made at (a decision at the cutoff close shows
            # in the holdings only a day later), and what was held at each close.
            return {"portfolio targets": self.book.targets, "portfolio weights": self.book.holdings}
        assert self.ticker is not None
        return {"position": self.ticker.in_market.astype(float).to_frame("in_market")}

    def closed_trades(self, cutoff: pd.Timestamp) -> pd.DataFrame:
        """The trades closed by `cutoff` (not those the end of the data closed)."""
        trades = self.trades
        closed = trades[(pd.to_datetime(trades["exit_date"]) <= cutoff)
                        & (trades["exit_reason"] != "end_of_data")]
        return closed.reset_index(drop=True)
