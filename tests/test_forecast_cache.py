"""The forecast cache: keyed by what changes forecasts, and safe when processes race on one key."""
from __future__ import annotations

import numpy as np
import pandas as pd

from backtests.pipeline.forecast_cache import ForecastCache, forecast_key
from backtests.pipeline.forecasts import forecast_settings


def _frame(rows: int = 2000) -> pd.DataFrame:
    index = pd.bdate_range("2001-01-01", periods=rows, name="date")
    rng = np.random.default_rng(0)
    return pd.DataFrame({"forecast": rng.normal(size=rows), "actual": rng.normal(size=rows),
                         "fold": np.arange(rows) // 21}, index=index)


def test_round_trip_is_bit_identical(tmp_path):
    cache = ForecastCache(tmp_path)
    frame = _frame()
    cache.store("k", frame, {"ticker": "X"})
    pd.testing.assert_frame_equal(cache.load("k"), frame, check_exact=True, check_freq=False)


def test_key_ignores_strategy_broker_and_report(make_cfg):
    base = make_cfg()
    other = make_cfg("strategy=buy_and_hold", "broker.commission=0.01", "report.plots=false")
    changed = make_cfg("forecaster.units=5")
    key = lambda cfg: forecast_key("data", forecast_settings(cfg), int(cfg.seed))  # noqa: E731
    assert key(base) == key(other)
    assert key(base) != key(changed)
    assert key(base) != forecast_key("other-data", forecast_settings(base), 42)
    assert key(base) != forecast_key("data", forecast_settings(base), 7)


def test_a_truncated_entry_is_ignored(tmp_path, caplog):
    cache = ForecastCache(tmp_path)
    cache.store("k", _frame(), {})
    path = tmp_path / "forecasts" / "k.csv"
    path.write_text(path.read_text()[:5000])  # as if a foreign tool cut the file short
    assert cache.load("k") is None
    assert "does not match" in caplog.text


def test_moving_a_class_to_another_module_keeps_the_key(make_cfg):
    from omegaconf import open_dict

    base = make_cfg()
    moved = make_cfg()
    with open_dict(moved):
        moved.forecaster._target_ = "somewhere.else.LSTMForecaster"
    other = make_cfg("forecaster=ridge")
    key = lambda cfg: forecast_key("data", forecast_settings(cfg), 42)  # noqa: E731
    assert key(moved) == key(base) and key(other) != key(base)


def test_a_ticker_called_na_comes_back_from_the_cache_as_itself(tmp_path):
    """Global forecasts are stored in long form with a ticker column: "NA" (a NASDAQ symbol) and a
    numeric-looking name must come back as the text they are, and missing numbers as NaN."""
    import numpy as np
    import pandas as pd

    from backtests.pipeline.forecast_cache import ForecastCache

    frame = pd.DataFrame({"ticker": ["NA", "1234", "MSFT"], "forecast": [0.1, np.nan, -0.2]},
                         index=pd.DatetimeIndex(["2020-01-02"] * 3, name="date"))
    cache = ForecastCache(tmp_path)
    cache.store("key", frame, {"model": "global"})
    back = cache.peek("key")
    assert back is not None and list(back["ticker"]) == ["NA", "1234", "MSFT"]
    assert np.isnan(back["forecast"].iloc[1]) and back["forecast"].iloc[2] == -0.2
