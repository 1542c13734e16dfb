"""`mode=holdout`: open the locked test period for one chosen setting, once, on the record.

The chosen setting (a sweep job's overrides, an Optuna sweep's best, or the command line's) runs
as a plain run over all the data: its walk-forward forecasts after the holdout date are as
out-of-sample as any other. Its figures are then split at the holdout (outputs/holdout_figures.py)
and shown side by side in holdout.html and holdout.json; the opening goes into the ledger with the
number of distinct trials made on the selection data before it. An opening of a holdout already
opened on the same selection data is counted and marked on every page that shows it.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from backtests.atomic import write_json, write_text
from backtests.data.holdout import holdout_date
from backtests.errors import UserError
from backtests.ledger.identity import settings_hash, trial_settings
from backtests.ledger.record import ledger_of
from backtests.ledger.store import Opening
from backtests.outputs.holdout_figures import period_figures
from backtests.outputs.pages.holdout import opening_mark, render_holdout
from backtests.stages.chain import run_chain
from backtests.stages.markets import load_markets
from backtests.sweeps.chosen import chosen_overrides, merge

log = logging.getLogger("backtests")


def run_holdout(cfg: DictConfig, *, sweep: str | None, job: int | None) -> None:
    """Run the chosen setting over all the data, split its figures at `evaluation.holdout`,
    record the opening in the ledger and write holdout.html and holdout.json."""
    overrides, chosen_from = _command_line(), "the command line"
    if sweep is not None:
        chosen, chosen_from = chosen_overrides(sweep, job)
        overrides = merge(chosen, overrides)
        cfg = _compose(cfg, overrides)
    elif job is not None:
        raise UserError("mode.job is a job of a sweep, and no mode.sweep was given",
                        "add mode.sweep=<the sweep folder>, or drop mode.job")
    holdout = holdout_date(cfg)
    if holdout is None:
        raise UserError("mode=holdout needs evaluation.holdout: the first day of the locked period",
                        "add evaluation.holdout=YYYY-MM-DD (the date the sweeps were run with)")
    selection = load_markets(cfg)  # before any training: the bars before the holdout
    full_cfg = opened(cfg)
    full = load_markets(full_cfg)
    last = max(m.frame.index[-1] for m in full.markets.values())
    if last < holdout:
        raise UserError(f"the data end on {last.date()}, before evaluation.holdout="
                        f"{holdout.date()}: there is no holdout to open",
                        "choose an earlier evaluation.holdout, or data that reach past it")
    ledger = ledger_of(cfg)
    trials_before = len(ledger.trials(selection.fingerprint)) if ledger is not None else None
    run_chain(full_cfg)
    out = Path(cfg.paths.output_dir)
    year = int(OmegaConf.select(cfg, "report.periods_per_year", default=252))
    result: dict[str, Any] = {
        "holdout": str(holdout.date()), "label": selection.label, "chosen_from": chosen_from,
        "overrides": overrides, "selection_dataset": selection.fingerprint,
        "dataset": full.fingerprint, "trials_before": trials_before,
        "selection": period_figures(out, None, holdout, year),
        "holdout_period": period_figures(out, holdout, None, year)}
    result["opening"] = None
    if ledger is not None:
        settings = trial_settings(full_cfg)
        result["opening"] = ledger.open_holdout(Opening(
            dataset=selection.fingerprint, holdout=result["holdout"], full_dataset=full.fingerprint,
            ticker=selection.label, settings_hash=settings_hash(settings),
            settings=json.dumps(settings, sort_keys=True, default=str), chosen_from=chosen_from,
            trials_before=int(trials_before or 0), run_dir=str(out)))
    result["reopened"] = bool(result["opening"] and result["opening"] > 1)
    write_json(out / "holdout.json", result)
    write_text(out / "holdout.html", render_holdout(result))
    _mark_report(out / "report.html", result)
    _log(result, out)


def opened(cfg: DictConfig) -> DictConfig:
    """A copy of `cfg` without the lock: a plain run over all the data."""
    copy = cfg.copy()
    with open_dict(copy):
        copy.evaluation.holdout = None
    return copy


def _command_line() -> list[str]:
    """This run's own overrides (none outside a Hydra run, e.g. in a test)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return merge(list(HydraConfig.get().overrides.task))


def _compose(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The full config of the chosen setting, written into this run's folder."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    from backtests.settings.validate import validate

    name = HydraConfig.get().job.config_name if HydraConfig.initialized() else "config"
    try:
        composed = compose(config_name=name or "config", overrides=overrides)
    except Exception as exc:  # Hydra's own error types: an override the config does not have
        raise UserError(f"the chosen setting does not compose: {str(exc).splitlines()[0]}",
                        "check the sweep's overrides against today's conf/") from exc
    with open_dict(composed):
        composed.paths.output_dir = str(cfg.paths.output_dir)
    validate(composed)
    return composed


def _mark_report(report: Path, result: dict[str, Any]) -> None:
    """report.html of the opening shows the holdout's days too: it carries the same mark."""
    if not report.is_file():
        return
    text = report.read_text(encoding="utf-8")
    mark = opening_mark(result).replace("</p>", ' (<a href="holdout.html">holdout.html</a>)</p>', 1)
    write_text(report, text.replace("<body>", "<body>" + mark, 1))


def _log(result: dict[str, Any], out: Path) -> None:
    number = result["opening"]
    if number is None:
        log.warning("holdout from %s opened with the ledger off: this opening is not counted",
                    result["holdout"])
    elif number > 1:
        log.warning("holdout from %s on this data has now been opened %d times: its figures are no "
                    "longer an untouched test", result["holdout"], number)
    else:
        log.info("holdout from %s opened for the first time, after %s trials on the selection data",
                 result["holdout"], result["trials_before"])
    for side in ("selection", "holdout_period"):
        block = result[side]
        strategy = block.get("strategy") or {}
        log.info("%s %s to %s: strategy Sharpe %.2f, total %+.1f%%", side.replace("_period", ""),
                 block.get("first"), block.get("last"), strategy.get("sharpe", float("nan")),
                 100 * strategy.get("total_return", float("nan")))
    log.info("holdout page: %s", out / "holdout.html")
