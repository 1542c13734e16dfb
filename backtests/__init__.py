"""Orchestration: loads market data, calls the forecaster and the backtrader engine, writes results."""
