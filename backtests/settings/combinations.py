"""Settings that contradict each other are refused before any work, never silently ignored.

Each rule here is a setting the user switched on that the rest of the configuration would make the
run skip without a word (a regime filter on forecasts that are ranks, a portfolio cap on a
one-ticker strategy, a global model's target in a per-ticker run), or a pair that cannot run at
all (a portfolio strategy on one ticker, forecast volatility without the model that makes it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from backtests.data.universe import MIN_TICKERS, is_universe_run
from backtests.errors import UserError
from backtests.settings.strategy import is_portfolio

PORTFOLIO_CAPS = ("risk.max_weight", "risk.max_gross", "risk.max_net")


def check_combinations(cfg: DictConfig, strategy: type | None) -> None:
    """Raise a UserError for the first pair of settings that contradict each other.

    `strategy` is the class strategy._target_ names (None when it does not import).
    """
    portfolio = strategy is not None and is_portfolio(strategy)
    universe = is_universe_run(cfg)
    name = strategy.__name__ if strategy is not None else "this strategy"
    if portfolio and not universe:
        raise UserError(f"strategy {name} trades a universe of tickers, but this run has one "
                        f"({_get(cfg, 'ticker', '?')})",
                        "add a universe: universe=dow30 data=csv data.path=DIR, or "
                        "universe.tickers=[AAPL,MSFT,NVDA]")
    _check_universe(cfg, universe)
    _check_regime_filter(cfg, portfolio, name)
    _check_distribution(cfg, portfolio, name)
    for key in PORTFOLIO_CAPS:
        if _get(cfg, key) is not None and not portfolio:
            raise UserError(f"{key}={_get(cfg, key)} caps a portfolio, but strategy {name} "
                            "trades one ticker: it would be ignored",
                            f"drop {key} (risk.max_position caps a one-ticker position), or use "
                            "strategy=topk or strategy=market_neutral on a universe")
    if _get(cfg, "risk.vol_source") == "forecast":
        methods = _get(cfg, "risk_model.methods") or []
        if not _get(cfg, "risk_model.enabled", False) or "lstm" not in list(methods):
            raise UserError("risk.vol_source=forecast needs the LSTM's volatility forecasts, but "
                            "risk_model does not make them",
                            "keep lstm in risk_model.methods and risk_model.enabled=true, or use "
                            "risk.vol_source=realised")


# Modes that look at the data without scoring a cross-section: any number of tickers will do.
UNSCORED_MODES = ("run_inspect", "run_ledger")
EXAMPLE_TICKERS = ("MSFT", "AAPL", "GOOG", "AMZN")


def _example_tickers(cfg: DictConfig) -> list[str]:
    """Tickers to suggest: the files of a CSV folder when there is one (no name that is not there),
    else well-known symbols."""
    path = _get(cfg, "data.path")
    if path and Path(str(path)).expanduser().is_dir():
        return sorted(f.stem.upper() for f in Path(str(path)).expanduser().glob("*.csv"))
    return list(EXAMPLE_TICKERS)


def _check_universe(cfg: DictConfig, universe: bool) -> None:
    """Enough names to score a cross-section; a global model's settings only with a global model."""
    model, target = _get(cfg, "universe.model", "per_ticker"), _get(cfg, "universe.target", "raw")
    _check_membership(cfg)
    if not universe:
        if model == "global" or target != "raw":
            key = "universe.model=global" if model == "global" else f"universe.target={target}"
            raise UserError(f"{key} shapes a universe run, but this run has one ticker: it would "
                            "be ignored", "add universe.tickers=[A,B,C] (or universe=folder, "
                            f"universe=dow30), or drop {key.split('=')[0]}")
        return
    tickers = _get(cfg, "universe.tickers")
    scored = str(_get(cfg, "mode._target_", "")).rpartition(".")[2] not in UNSCORED_MODES
    if scored and tickers and len(set(map(str, tickers))) < MIN_TICKERS:
        names = list(dict.fromkeys(map(str, tickers)))
        more = [t for t in _example_tickers(cfg) if t not in names][:MIN_TICKERS - len(names)]
        raise UserError(f"universe.tickers=[{','.join(names)}] names {len(names)} distinct "
                        f"ticker(s); a universe needs at least {MIN_TICKERS} (the daily IC is a "
                        "correlation across tickers)",
                        f"list {MIN_TICKERS} or more, e.g. universe.tickers=[{','.join(names + more)}], "
                        "or drop universe.tickers for a one-ticker run (ticker=...)")
    if model != "global" and target != "raw":
        raise UserError(f"universe.target={target} is the global model's target, but "
                        f"universe.model={model} trains each ticker on its own returns: it would "
                        "be ignored", "add universe.model=global, or drop universe.target")


def _check_membership(cfg: DictConfig) -> None:
    """A membership file chooses the members alone; `survivors` only reads one."""
    file, name = _get(cfg, "universe.file"), _get(cfg, "universe.name", "single")
    if _get(cfg, "universe.survivors", False) and not file:
        raise UserError("universe.survivors=true runs a membership file's last members on every "
                        "date, but no universe.file is given: it would be ignored",
                        "add universe=membership universe.file=PATH, or drop universe.survivors")
    if file and name != "membership":
        raise UserError(f"universe.file is the membership file of universe=membership, but this "
                        f"run has universe={name}: it would be ignored",
                        "add universe=membership, or drop universe.file")
    if name == "membership" and not file:
        raise UserError("universe=membership needs its membership file",
                        "add universe.file=PATH (CSV ticker,start,end; qlib's instruments file; or "
                        "date,tickers snapshots)")
    if name == "membership" and _get(cfg, "universe.tickers"):
        raise UserError("universe=membership takes its members from universe.file, so "
                        "universe.tickers would be ignored", "drop universe.tickers")


def _check_distribution(cfg: DictConfig, portfolio: bool, name: str) -> None:
    """A strategy that reads the forecast distribution needs a forecaster that makes one, at its
    horizon (a portfolio reads the 1-session one, and only per-ticker models make it)."""
    horizons = _get(cfg, "forecaster.horizons")
    rank_by = _get(cfg, "strategy.rank_by", "forecast") if portfolio else None
    horizon = _get(cfg, "strategy.horizon") if not portfolio else (1 if rank_by != "forecast" else None)
    if horizon is None:
        return
    what = f"strategy.rank_by={rank_by}" if portfolio else f"strategy {name}"
    if horizons is None:
        raise UserError(f"{what} reads the forecast distribution, but forecaster="
                        f"{_get(cfg, 'forecaster._target_', '?').rpartition('.')[2]} forecasts "
                        "a point only", "add forecaster=lstm_dist (a Student-t per horizon)")
    if int(horizon) != 1 and int(horizon) not in {int(h) for h in horizons}:
        wanted = ",".join(str(h) for h in sorted({1, *map(int, horizons), int(horizon)}))
        raise UserError(f"strategy.horizon={horizon} is not one of forecaster.horizons="
                        f"[{','.join(str(h) for h in horizons)}]",
                        f"add it: forecaster.horizons=[{wanted}], or choose one of those")
    if portfolio and _get(cfg, "universe.model") == "global":
        raise UserError(f"{what} reads each ticker's forecast distribution, but the global model "
                        "forecasts a point", "use universe.model=per_ticker, or drop strategy.rank_by")


def _check_regime_filter(cfg: DictConfig, portfolio: bool, name: str) -> None:
    """The regime filter scales a portfolio by the sentiment index: all three must exist."""
    if _get(cfg, "sentiment.regime_filter") is not True:
        return
    why = None
    if not portfolio:
        why = (f"strategy {name} is not a portfolio strategy",
               "use strategy=topk or strategy=market_neutral on a universe")
    elif not _get(cfg, "sentiment.enabled", True):
        why = "sentiment.enabled=false builds no index", "drop sentiment.enabled=false"
    elif _get(cfg, "universe.model") == "global" and _get(cfg, "universe.target") == "csrank":
        why = ("the forecasts are cross-sectional ranks (universe.target=csrank), which say nothing "
               "about the market, so no sentiment index is built",
               "use universe.target=raw or universe.target=excess")
    if why is not None:
        raise UserError(f"sentiment.regime_filter=true scales a portfolio by the sentiment index, "
                        f"but {why[0]}: the filter would be ignored",
                        f"{why[1]}, or drop sentiment.regime_filter")


def _get(cfg: DictConfig, key: str, default: Any = None) -> Any:
    return OmegaConf.select(cfg, key, default=default)
