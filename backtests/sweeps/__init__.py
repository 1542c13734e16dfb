"""Sweeps: failed jobs recorded, the summary of every run over one test period, deflated Sharpe."""
