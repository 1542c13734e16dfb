"""`mode=predict`: fit on all the data, save the model, and forecast the next session.

The model folder (`<results>/models/<TICKER>/<settings key>/`) holds `model.keras`, `scaler.json`,
the resolved settings and the fingerprint of the data it was fit on. A later call reuses it while
fewer than `walkforward.retrain_every` new bars have arrived and the bars it was fit on are
unchanged; otherwise it refits. The folder is written under a temporary name and renamed into place.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_json
from backtests.data.base import MarketData
from backtests.data.symbols import safe_name
from backtests.errors import UserError
from backtests.forecast_cache import forecast_key
from backtests.forecasts import build_windows, forecast_settings

log = logging.getLogger("backtests")


def model_folder(cfg: DictConfig, ticker: str) -> Path:
    key = forecast_key("any-data", forecast_settings(cfg), int(cfg.seed))
    return Path(cfg.paths.results_dir) / "models" / safe_name(ticker) / key


def _saved_meta(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def _reusable(meta: dict[str, Any] | None, market: MarketData, retrain_every: int) -> tuple[bool, str]:
    if meta is None:
        return False, "no saved model"
    last = pd.Timestamp(meta["last_bar"])
    seen = replace(market, frame=market.frame.loc[:last])
    if seen.fingerprint != meta["data_fingerprint"]:
        return False, f"the bars up to {last.date()} changed since the model was fit"
    new_bars = int((market.frame.index > last).sum())
    if new_bars >= retrain_every:
        return False, f"{new_bars} new bars since {last.date()} (refit every {retrain_every})"
    return True, f"{new_bars} new bar(s) since {last.date()}, fewer than {retrain_every}"


def _fit_and_save(cfg: DictConfig, market: MarketData, folder: Path, windows) -> Any:
    forecaster = instantiate(cfg.forecaster)
    if not hasattr(forecaster, "save"):
        raise UserError(f"forecaster {type(forecaster).__name__} cannot be saved",
                        "use forecaster=lstm for mode=predict")
    walkforward = instantiate(cfg.walkforward)
    labelled = windows.labelled
    fit_part, held_out = walkforward.split_validation(labelled, warm=False)
    forecaster.fit(fit_part, seed=int(cfg.seed), validation=held_out)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        forecaster.save(staging)
        (staging / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(forecast_settings(cfg))))
        write_json(staging / "meta.json", {"ticker": market.ticker, "last_bar": market.frame.index[-1].date(),
                                           "data_fingerprint": market.fingerprint,
                                           "trained_samples": len(labelled)})
        retired = folder.with_name(f".{folder.name}.old-{staging.name[-8:]}")
        try:
            folder.rename(retired)  # the old model stays whole until the new one is in place
        except FileNotFoundError:
            pass  # no model yet, or another process is swapping it in right now
        try:
            staging.rename(folder)
        except OSError:  # another process installed its model between the two renames
            log.warning("predict: another process saved a model in %s at the same time; keeping "
                        "that one (same settings) and using this fit for this run only", folder)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return forecaster


def signal_for(forecast: float, strategy: DictConfig) -> str:
    """What the configured thresholds make of a forecast: long, short, flat or hold."""
    entry, exit_ = strategy.get("entry"), strategy.get("exit")
    threshold = strategy.get("threshold")
    if entry is not None and exit_ is not None:
        return "long" if forecast > entry else "flat" if forecast < exit_ else "hold"
    if threshold is not None:
        return "long" if forecast > threshold else "short" if forecast < -threshold else "flat"
    return "long" if forecast > 0 else "flat"


def run_predict(cfg: DictConfig) -> float:
    """Refresh the data, reuse or refit the saved model, and forecast the next session."""
    market = instantiate(cfg.data).load()
    windows = build_windows(cfg, market)
    folder = model_folder(cfg, market.ticker)
    reuse, why = _reusable(_saved_meta(folder), market, int(cfg.walkforward.retrain_every))
    if reuse:
        log.info("predict: reusing the saved model in %s (%s)", folder, why)
        forecaster = instantiate(cfg.forecaster).load(folder)
    else:
        log.info("predict: fitting on %d samples to %s (%s)", len(windows.labelled),
                 market.frame.index[-1].date(), why)
        forecaster = _fit_and_save(cfg, market, folder, windows)
    last = windows[len(windows) - 1:]
    forecast = float(forecaster.predict(last).iloc[0])
    close = float(market.frame["Close"].iloc[-1])
    result = {
        "ticker": market.ticker, "as_of_close": last.index[0].date(),
        "forecast_log_return": forecast, "last_close": close,
        "implied_next_close": close * math.exp(forecast),
        "signal": signal_for(forecast, cfg.strategy), "model": str(folder), "model_reused": reuse,
    }
    write_json(Path(cfg.paths.output_dir) / "forecast.json", result)
    log.info("predict: %s next session after %s: forecast %+.4f%% (implied close %.2f) -> %s",
             market.ticker, result["as_of_close"], 100 * forecast, result["implied_next_close"],
             result["signal"].upper())
    return forecast
