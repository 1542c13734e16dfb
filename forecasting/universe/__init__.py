"""Many tickers at once: the panel of windows, the date-based fold schedule, the global LSTM and
cross-sectional scoring (IC, Rank IC, ICIR). Knows nothing of backtrader or of where prices come from.
"""
