"""The flow of one run: forecasts (cached), the backtrader engine with its costs, the metrics."""
