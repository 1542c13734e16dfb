"""What `mode=` runs: the backtest experiment, the look-ahead audit, next-session predictions."""
