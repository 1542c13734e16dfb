"""A seeded synthetic daily market: drift, GARCH(1,1) volatility clustering, jumps and volume.

Realistic enough that features, forecaster and strategies meet the shapes they meet in real data
(fat tails, calm and stormy spells, gaps at the open), and exactly reproducible from the seed.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.data.base import MarketData, PriceSource
from backtests.data.clean import clean_prices
from backtests.data.quality import QualityPolicy
from backtests.data.symbols import check_ticker
from backtests.errors import UserError
from strategies.risk import TRADING_DAYS


def synthetic_bars(bars: int, seed: int, first_date: str = "2010-01-04", initial_price: float = 100.0,
                   annual_drift: float = 0.08, annual_vol: float = 0.20, vol_persistence: float = 0.94,
                   vol_reaction: float = 0.05, jump_prob: float = 0.01,
                   jump_scale: float = 0.04) -> pd.DataFrame:
    """Return `bars` business days of OHLCV generated from `seed`."""
    if vol_persistence + vol_reaction >= 1:
        raise UserError("data.vol_persistence + data.vol_reaction must be below 1",
                        "e.g. vol_persistence=0.94 vol_reaction=0.05")
    rng = np.random.default_rng(seed)
    daily_var = annual_vol**2 / TRADING_DAYS
    omega = daily_var * (1 - vol_persistence - vol_reaction)
    shocks = rng.standard_normal(bars)
    jumps = (rng.random(bars) < jump_prob) * rng.normal(0.0, jump_scale, bars)
    returns = np.empty(bars)
    var = daily_var
    for t in range(bars):
        eps = np.sqrt(var) * shocks[t]
        returns[t] = annual_drift / TRADING_DAYS - 0.5 * var + eps + jumps[t]
        var = omega + vol_reaction * eps**2 + vol_persistence * var
    close = initial_price * np.exp(np.cumsum(returns))
    prev_close = np.concatenate([[initial_price], close[:-1]])
    # The overnight gap takes a share of the day's move; the rest happens during the session.
    gap_share = rng.uniform(0.1, 0.5, bars)
    open_ = prev_close * np.exp(gap_share * returns + rng.normal(0, 0.002, bars))
    spread = np.abs(rng.normal(0, 1, bars)) * np.sqrt(daily_var) * 0.8
    high = np.maximum(open_, close) * np.exp(spread * rng.uniform(0.3, 1.0, bars))
    low = np.minimum(open_, close) * np.exp(-spread * rng.uniform(0.3, 1.0, bars))
    volume = np.round(1e6 * np.exp(rng.normal(0, 0.3, bars) + 8 * np.abs(returns)))
    dates = pd.bdate_range(first_date, periods=bars, name="Date")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close,
                         "Volume": volume}, index=dates)


class SyntheticSource(PriceSource):
    """Seeded synthetic bars: the offline source for tests and demos."""

    default_ticker = "SYN"  # its own label: synthetic prices are never called MSFT

    bounds = {**PriceSource.bounds, "bars": "int >= 2", "initial_price": "number > 0",
              "annual_vol": "number > 0", "annual_drift": "number",
              "vol_persistence": "0 <= number < 1", "vol_reaction": "0 <= number < 1",
              "jump_prob": "0 <= number <= 1", "jump_scale": "number >= 0"}

    def __init__(self, ticker: str, seed: int, *, bars: int, first_date: str, start: str | None,
                 end: str | None, quality: QualityPolicy, initial_price: float, annual_drift: float,
                 annual_vol: float, vol_persistence: float, vol_reaction: float, jump_prob: float,
                 jump_scale: float) -> None:
        # No defaults: conf/data/synthetic.yaml holds them (its quality trades every weekday).
        super().__init__(check_ticker(ticker), start=start, end=end, quality=quality)
        self.seed, self.bars, self.first_date = int(seed), int(bars), first_date
        # Named, not **shape: a key the market does not take is refused before any work
        # (backtests/settings/keys.py reads this signature), never passed on to fail late.
        self.shape = {"initial_price": initial_price, "annual_drift": annual_drift,
                      "annual_vol": annual_vol, "vol_persistence": vol_persistence,
                      "vol_reaction": vol_reaction, "jump_prob": jump_prob, "jump_scale": jump_scale}

    def _load(self) -> MarketData:
        raw = synthetic_bars(self.bars, self.seed, self.first_date, **self.shape)
        frame, repairs = clean_prices(raw, "synthetic market")
        return MarketData(frame=frame, source=f"synthetic:seed={self.seed}", ticker=self.ticker,
                          repairs=repairs)
