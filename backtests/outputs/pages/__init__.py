"""Pages of their own besides report.html: data_quality.html and universe.html."""
