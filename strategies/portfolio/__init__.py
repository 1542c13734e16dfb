"""Portfolio strategies: one feed per ticker, target weights rebalanced every few sessions."""
