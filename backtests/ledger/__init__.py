"""The trial ledger: every backtest on the record, and a deflated Sharpe that counts them all."""
