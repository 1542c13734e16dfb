"""What `mode=` runs, and only that: the backtest (experiment.py), audit, predict, inspect, ledger."""
