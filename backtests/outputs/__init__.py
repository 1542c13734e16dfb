"""What a run writes: metrics and CSV files, report.html, plots, the QuantStats tearsheet."""
