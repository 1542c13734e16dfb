"""Settings: every value checked before work starts; the strategy group resolved."""
