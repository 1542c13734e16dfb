"""backtrader strategies. They read the forecast as the `signal` line of their data feed and never
import TensorFlow or anything from `forecasting`."""
