"""The journal stage: a run that forecasts past the end of its data writes what it forecast and
decided for the next session into the experiment's journal (backtests/journal/), before the
outcome exists, and scores the live record so far.

Which runs write: every backtest and mode=predict whose data run open-ended (data.end null), outside
a sweep (a sweep searches; the evening run is one experiment), with `journal.enabled`. An entry is
made once per close: a second run the same evening finds it and writes nothing; a run on data older
than the journal's last entry writes nothing either. Before the entry, the bars that arrived since
the last run are filled in (outcomes.jsonl), each bar once. The entry's numbers come from
`entry_table`, which the audit replays too (an entry made at a close reads nothing after it).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from backtests.atomic import write_json
from backtests.journal.scores import live_scores
from backtests.journal.store import ENTRIES, OUTCOMES, Journal
from backtests.ledger.identity import settings_hash, trial_settings
from backtests.runcontext import sweep_name
from backtests.settings.strategy import strategy_class_and_params
from backtests.stages.forecasts import Forecasts
from backtests.stages.markets import Markets

log = logging.getLogger(__name__)

Exposures = Mapping[str, tuple[float, float]]  # ticker -> (held at the close, target at the open)


def journal_settings(cfg: DictConfig) -> dict[str, Any]:
    """What a journal is of: the settings that decide results (the ledger's), and the data's span."""
    data = cfg.get("data") or {}
    return {"settings": trial_settings(cfg),
            "data": {"start": str(data.get("start")), "end": str(data.get("end"))}}


def journal_of(cfg: DictConfig, loaded: Markets) -> Journal | None:
    """The experiment's journal, or None when this run does not write one (see the module doc)."""
    conf = cfg.get("journal")
    if conf is None or not conf.get("enabled") or sweep_name() is not None:
        return None
    if OmegaConf.select(cfg, "data.end", default=None) is not None:
        return None  # a history that stops on a chosen date: its next session is already known
    key = settings_hash(journal_settings(cfg))
    return Journal(conf.path, loaded.label, key, float(conf.lock_timeout_s))


def entry_table(loaded: Markets, forecasts: Forecasts) -> pd.DataFrame:
    """By (date, ticker): what an entry made at that close holds for the ticker: the close, the
    last log return (persistence's input), the point forecast, and each horizon's mean and P(up)."""
    parts = []
    for ticker, market in sorted(loaded.markets.items()):
        close = market.frame["Close"]
        frame = pd.DataFrame({"close": close, "last_return": np.log(close).diff()})
        made = forecasts.frames.get(ticker)
        if made is None:
            made = forecasts.long[forecasts.long["ticker"] == ticker].set_index("date")
        frame["forecast"] = made["forecast"].reindex(frame.index)
        for name in sorted(c for c in made.columns if c.startswith("mean_h")):
            h = name[len("mean_h"):]
            frame[name] = made[name].reindex(frame.index)
            scale, df = made.get(f"scale_h{h}"), made.get(f"df_h{h}")
            if scale is not None and df is not None:
                from forecasting.distribution.base import p_up

                both = pd.DataFrame({"mean": made[name], "scale": scale, "df": df}).dropna()
                frame[f"p_up_h{h}"] = pd.Series(p_up(both), index=both.index).reindex(frame.index)
        parts.append(frame.assign(ticker=ticker).set_index("ticker", append=True))
    return pd.concat(parts).sort_index()


def _number(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def members(table: pd.DataFrame, as_of: pd.Timestamp, exposures: Exposures) -> list[dict[str, Any]]:
    """The entry's row per ticker with a bar at `as_of`."""
    rows = []
    for (_, ticker), row in table.loc[[as_of]].iterrows():
        held, target = exposures.get(str(ticker), (0.0, 0.0))
        steps = sorted(int(c[len("mean_h"):]) for c in row.index if c.startswith("mean_h"))
        horizons = [{"h": h, "mean": _number(row[f"mean_h{h}"]),
                     "p_up": _number(row.get(f"p_up_h{h}", math.nan))} for h in steps]
        rows.append({"ticker": str(ticker), "last_close": _number(row["close"]),
                     "last_return": _number(row["last_return"]), "forecast": _number(row["forecast"]),
                     "held": float(held), "target": float(target),
                     **({"horizons": horizons} if horizons else {})})
    return rows


def new_bars(loaded: Markets, after: pd.Timestamp, now: str) -> list[dict[str, Any]]:
    """Every ticker's bars after `after`, as outcomes.jsonl records."""
    rows = []
    for ticker, market in sorted(loaded.markets.items()):
        frame = market.frame.loc[market.frame.index > after, ["Open", "Close"]]
        rows += [{"date": d.date().isoformat(), "ticker": ticker, "open": float(o),
                  "close": float(c), "recorded_at": now} for d, (o, c) in frame.iterrows()]
    return sorted(rows, key=lambda r: (r["date"], r["ticker"]))


def journal_stage(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, *, strategy: str,
                  decision: str, exposures: Exposures, cost: float, kind: str,
                  backtest: pd.Series | None) -> dict[str, Any] | None:
    """Fill in the bars since the last run, add this close's entry (once), score the live record
    (written as live.json in the run folder too); None when this run keeps no journal."""
    journal = journal_of(cfg, loaded)
    if journal is None:
        return None
    table = entry_table(loaded, forecasts)
    as_of = max(m.frame.index[-1] for m in loaded.markets.values())
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    with journal.locked():
        journal.start(journal_settings(cfg))
        entries = journal.read(ENTRIES)
        if entries:
            filled = journal.read(OUTCOMES)
            last = max([pd.Timestamp(entries[0]["as_of"])]
                       + [pd.Timestamp(r["date"]) for r in filled])
            journal.append(OUTCOMES, new_bars(loaded, last, now))  # before the entry: its outcome
        latest = pd.Timestamp(entries[-1]["as_of"]) if entries else None
        if latest is not None and as_of <= latest:
            log.info("journal: an entry for the close of %s is in %s already (this data end at %s; "
                     "entries are never rewritten)", latest.date(), journal.folder, as_of.date())
        else:
            revised = (latest is not None
                       and loaded.fingerprint_until(latest) != entries[-1]["data_fingerprint"])
            if revised:
                log.warning("journal: the data up to the last entry (%s) differ from what that entry "
                            "saw: the provider revised its history", entries[-1]["as_of"])
            entry = {"as_of": as_of.date().isoformat(), "made_at": now, "kind": kind,
                     "label": loaded.label, "config_hash": journal.key,
                     "data_fingerprint": loaded.fingerprint, "revised_before": revised,
                     "strategy": strategy, "decision": decision, "cost": cost,
                     "members": members(table, as_of, exposures),
                     "run_dir": str(cfg.paths.output_dir)}
            journal.append(ENTRIES, [entry])
            log.info("journal: %s's forecast and decision for the session after %s written to %s",
                     loaded.label, as_of.date(), journal.folder)
        live = live_scores(journal.read(ENTRIES), journal.read(OUTCOMES), backtest)
    live["journal"] = str(journal.folder)
    write_json(Path(cfg.paths.output_dir) / "live.json", live)
    log.info("journal: %s", live.get("verdict", "no entries"))
    return live


def cost_rate(broker: Any) -> float:
    """Costs per unit of equity traded: commission (when a fraction of value) and slippage."""
    commission = float(broker.commission) if broker.commission_type == "fraction" else 0.0
    return commission + float(broker.slippage)


def journal_ticker(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, result: Any,
                   kind: str) -> dict[str, Any] | None:
    """journal_stage for a single ticker's engine `result` (a BacktestResult): its decision at the
    last close in words, its side now and wanted as fractions of equity (broker.invest_fraction)."""
    from hydra.utils import instantiate

    from backtests.outputs.advice import action_text

    broker = instantiate(cfg.broker)
    decision, fraction = result.decision, float(broker.invest_fraction)
    exposures = {loaded.market.ticker: (decision["position"] * fraction, decision["target"] * fraction)}
    strategy = strategy_class_and_params(cfg.strategy)[0].__name__
    return journal_stage(cfg, loaded, forecasts, strategy=strategy,
                         decision=action_text(decision, instantiate(cfg.get("risk"))),
                         exposures=exposures, cost=cost_rate(broker), kind=kind,
                         backtest=result.returns)


def book_decision(cfg: DictConfig, traded: Any, regime: bool) -> tuple[list[dict[str, Any]], str]:
    """A universe's orders for the next open with their reasons, and the advice in words, from
    its trade stage's record (`traded`: Traded or None, when the strategy trades one ticker)."""
    from hydra.utils import instantiate

    from backtests.outputs.book_advice import book_advice, book_orders

    book = traded.book if traded is not None else None
    if book is None:
        name = strategy_class_and_params(cfg.strategy)[0].__name__
        return [], f"{name} trades one ticker: forecasts only, no book"
    _, params = strategy_class_and_params(cfg.strategy)
    rows = book_orders(book.decision, params, instantiate(cfg.get("risk")), regime, book.trades)
    return rows, book_advice(book.decision, rows)


def journal_book(cfg: DictConfig, loaded: Markets, forecasts: Forecasts, traded: Any,
                 rows: list[dict[str, Any]], advice: str, kind: str) -> dict[str, Any] | None:
    """journal_stage for a universe: each member's weight held and targeted, the book's advice."""
    from hydra.utils import instantiate

    book = traded.book if traded is not None else None
    return journal_stage(cfg, loaded, forecasts,
                         strategy=strategy_class_and_params(cfg.strategy)[0].__name__,
                         decision=advice,
                         exposures={r["ticker"]: (r["held_weight"], r["target_weight"]) for r in rows},
                         cost=cost_rate(instantiate(cfg.broker)), kind=kind,
                         backtest=book.returns if book is not None else None)
