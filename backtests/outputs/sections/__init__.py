"""report.html's sections beyond the core: data checks, trials, risk forecasts, attributions."""
