"""Market data sources. Each returns one validated frame through `clean_prices`."""
from backtests.data.base import MarketData, PriceSource

__all__ = ["MarketData", "PriceSource"]
