"""`mode=zoo`: every forecaster x feature set on one universe, several seeds, one table.

The models and feature sets are the options of conf/forecaster/ and conf/features/ (less those
matching a `mode.exclude` pattern), so a new one joins by its config file alone. Each combination
and seed is the run's own config with `forecaster=`, `features=` and `seed=` changed, composed
and checked before anything trains; all of them forecast the same loaded universe through the
one forecast stage (per ticker or the global model, as `universe.model` says), over the same
walk-forward folds, and are scored over the days every fit has (forecasting/universe/benchmark.py).
Writes zoo.html (the table and the IC curves), zoo.csv, zoo_runs.csv, zoo_ic.csv and zoo.json.
"""
from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf, open_dict

from backtests.atomic import write_csv, write_json, write_text
from backtests.data.universe import is_universe_run
from backtests.errors import UserError
from backtests.outputs.pages.zoo import plain, render_zoo, write_ic_curves
from backtests.stages.forecasts import forecast_stage
from backtests.stages.markets import load_markets
from backtests.sweeps.chosen import merge
from forecasting.universe.benchmark import against, daily_scores, fit_scores, over_seeds

log = logging.getLogger("backtests")

Compose = Callable[[list[str]], DictConfig]


def run_zoo(cfg: DictConfig, *, forecasters: Sequence[str] | None, features: Sequence[str] | None,
            exclude: Sequence[str], seeds: Sequence[int], baseline: str, top_k: int,
            use_cache: bool) -> None:
    """The zoo of this run's universe (see the module docstring); mode settings in conf/mode/zoo.yaml."""
    from hydra.core.hydra_config import HydraConfig

    base = merge(list(HydraConfig.get().overrides.task)) if HydraConfig.initialized() else []
    name = HydraConfig.get().job.config_name if HydraConfig.initialized() else "config"
    build_zoo(cfg, base, _composer(name or "config"), forecasters=forecasters, features=features,
              exclude=exclude, seeds=seeds, baseline=baseline, top_k=top_k, use_cache=use_cache)


def _composer(name: str) -> Compose:
    from hydra import compose

    return lambda overrides: compose(config_name=name, overrides=overrides)


def group_options(group: str) -> list[str]:
    """The options of a config group (conf/<group>/*.yaml and any plugin's), sorted."""
    from hydra.core.global_hydra import GlobalHydra

    return sorted(GlobalHydra.instance().config_loader().get_group_options(group))


def _chosen(group: str, given: Sequence[str] | None, exclude: Sequence[str]) -> list[str]:
    """The listed options (each checked), or every option not matching an `exclude` pattern."""
    available = group_options(group)
    if not given:
        return [o for o in available if not any(fnmatch.fnmatchcase(o, p) for p in exclude)]
    unknown = [o for o in given if o not in available]
    if unknown:
        raise UserError(f"mode.{'forecasters' if group == 'forecaster' else group}: {unknown[0]} is "
                        f"not an option of conf/{group}/", f"choose from {', '.join(available)}")
    return list(dict.fromkeys(given))


def build_zoo(cfg: DictConfig, base: list[str], compose: Compose, *,
              forecasters: Sequence[str] | None, features: Sequence[str] | None,
              exclude: Sequence[str], seeds: Sequence[int], baseline: str, top_k: int,
              use_cache: bool = False) -> pd.DataFrame:
    """Fit every model x feature set x seed on `cfg`'s universe and write the zoo's files into
    `cfg.paths.output_dir`; `base`: the overrides every combination starts from; returns zoo.csv."""
    if not is_universe_run(cfg):
        raise UserError("mode=zoo scores models across tickers and needs a universe",
                        "add universe.tickers=[A,B,C,...] or universe=folder (data=csv data.path=DIR)")
    models, sets = _chosen("forecaster", forecasters, exclude), _chosen("features", features, exclude)
    if baseline not in models:
        raise UserError(f"mode.baseline={baseline} is not among the zoo's models ({', '.join(models)})",
                        f"e.g. mode.baseline={models[0]}, or add it to mode.forecasters")
    if not seeds:
        raise UserError("mode.seeds is empty", "e.g. mode.seeds=[1,2,3]")
    configs: dict[tuple[str, str, int], DictConfig] = {}
    left_out: dict[str, str] = {}
    for key in [(m, f, int(s)) for m in models for f in sets for s in seeds]:
        try:  # every combination checked before any trains
            configs[key] = _combination(cfg, base, compose, *key)
        except UserError as error:  # e.g. a forecaster the universe's model cannot train
            if key[0] == baseline:
                raise
            left_out.setdefault(f"{key[0]} / {key[1]}", error.message)
    for pair, why in left_out.items():
        log.warning("zoo: leaving %s out: %s", pair, why)
    loaded = load_markets(cfg)
    fits: dict[tuple[str, str, int], dict[str, Any]] = {}
    for number, ((model, feature_set, seed), combo) in enumerate(configs.items(), start=1):
        clock = time.perf_counter()
        made = forecast_stage(combo, loaded, reads=True, use_cache=use_cache)
        seconds = time.perf_counter() - clock
        fits[(model, feature_set, seed)] = {"long": made.long, "returns": made.returns,
                                            "daily": daily_scores(made.long, top_k), "seconds": seconds}
        log.info("zoo %d/%d: %s / %s / seed %d in %.1f s", number, len(configs), model, feature_set,
                 seed, seconds)
    return _write(cfg, loaded.label, sorted(loaded.markets), fits, baseline, top_k, list(seeds),
                  left_out)


def _combination(cfg: DictConfig, base: list[str], compose: Compose, model: str, feature_set: str,
                 seed: int) -> DictConfig:
    from backtests.settings.validate import validate

    combo = compose(merge(base, [f"forecaster={model}", f"features={feature_set}", f"seed={seed}"]))
    with open_dict(combo):
        combo.paths = OmegaConf.create(OmegaConf.to_container(cfg.paths, resolve=True))
    validate(combo)
    return combo


def _write(cfg: DictConfig, label: str, tickers: list[str], fits: dict[tuple[str, str, int], Any],
           baseline: str, top_k: int, seeds: list[int], left_out: dict[str, str]) -> pd.DataFrame:
    """Score every fit over the days they all have; write the table, the curves and the page."""
    common = None
    for fit in fits.values():
        days = fit["daily"].dropna(subset=["ic"]).index
        common = days if common is None else common.intersection(days)
    assert common is not None
    common = common.sort_values()
    runs, curves, by_pair = [], [], {}
    for (model, feature_set, seed), fit in fits.items():
        daily = fit["daily"].reindex(common)
        runs.append({"model": model, "features": feature_set, "seed": seed,
                     **fit_scores(fit["long"], daily, fit["seconds"], fit["returns"])})
        curves.append(daily.assign(model=model, features=feature_set, seed=seed))
    ic = pd.concat(curves).rename_axis("date").reset_index()
    for (model, feature_set), group in ic.groupby(["model", "features"], sort=False):
        by_pair[(model, feature_set)] = group.groupby("date")[["ic", "rank_ic", "topk_excess"]].mean()
    table = over_seeds(pd.DataFrame(runs)).merge(against(by_pair, baseline), on=["model", "features"])
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "zoo_runs.csv", pd.DataFrame(runs), index=False)
    write_csv(out / "zoo.csv", table, index=False)
    write_csv(out / "zoo_ic.csv", ic[["date", "model", "features", "seed", "ic", "rank_ic",
                                      "topk_excess"]], index=False, date_format="%Y-%m-%d")
    info = {"label": label, "tickers": tickers, "baseline": baseline, "top_k": top_k, "seeds": seeds,
            "universe_model": str(OmegaConf.select(cfg, "universe.model", default="")),
            "days": int(len(common)), "first": str(common[0].date()) if len(common) else "?",
            "last": str(common[-1].date()) if len(common) else "?", "left_out": left_out,
            "schedule": _schedule(cfg)}
    write_json(out / "zoo.json", {**info, "table": [{k: plain(v) for k, v in row.items()}
                                                   for row in table.to_dict("records")]})
    write_ic_curves(out / "zoo.png", by_pair)
    write_text(out / "zoo.html", render_zoo(table, info, out))
    log.info("zoo: %d fits over %d days; table %s", len(fits), len(common), out / "zoo.html")
    return table


def _schedule(cfg: DictConfig) -> str:
    """How every fit was retrained, and the holdout it never saw: said on the page beside the table."""
    walk = cfg.walkforward
    said = (f"walk-forward ({walk.mode}): first fit on {walk.initial_train} bars, retrained every "
            f"{walk.retrain_every}")
    holdout = OmegaConf.select(cfg, "evaluation.holdout", default=None)
    return said + (f"; the holdout from {holdout} not opened" if holdout else "")
