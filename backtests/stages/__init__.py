"""The stages the modes chain: a universe's run, portfolio and audit, the look-ahead checks both
audits share, and the timing of each stage."""
