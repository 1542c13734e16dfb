"""The stages the modes chain together: a universe's run, portfolio and audit, and their timings."""
