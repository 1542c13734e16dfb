"""Next-day risk forecasts (volatility, VaR, ES) and their backtests, walk-forward like the returns."""
