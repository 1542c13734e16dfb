"""The `universe` group: which tickers a run covers, and loading them as one panel.

`single` (the default) is today's one-ticker run from `ticker`; a list (`universe.tickers=[A,B]`),
`folder` (every `<TICKER>.csv` in `data.path`) or a named preset makes it a universe run. Each ticker
is loaded and quality-checked exactly as a single run loads it, in parallel threads; one that cannot
be used (no file, a failing check, too little history) is left out with a warning naming it and why.
"""
from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.data.base import MarketData
from backtests.data.csv import file_ticker
from backtests.data.membership import Membership, read_membership
from backtests.data.quality import say_age
from backtests.data.symbols import check_ticker
from backtests.errors import UserError, first_few
from forecasting.universe.cross_section import MIN_NAMES

log = logging.getLogger(__name__)

MIN_TICKERS = MIN_NAMES  # the cross-section is scored over at least this many names a day
LIST_NAMES_JOINED = 4  # a list of up to this many tickers is named by them: MSFT+GOOG+AAPL


def list_name(tickers: Sequence[object]) -> str:
    """The name of a universe given as a list, from its members (checked, sorted, unique):
    `AAPL+GOOG+MSFT`, or `list-<count>-<hash>` for longer lists, so two lists never share a name."""
    members = sorted(dict.fromkeys(check_ticker(t) for t in tickers))
    if len(members) <= LIST_NAMES_JOINED:
        return "+".join(members)
    digest = hashlib.sha256(",".join(members).encode()).hexdigest()[:8]
    return f"list-{len(members)}-{digest}"


class Universe:
    """The universe settings (see conf/universe/single.yaml for each)."""

    bounds = {"model": "one of: per_ticker, global", "target": "one of: raw, excess, csrank",
              "embedding": "int >= 0", "batch_size": "int >= 1", "warm_samples": "int >= 0",
              "val_samples": "int >= 0", "n_jobs": "int >= 1", "executor": "one of: loky, dask",
              "spread_quantile": "0 < number <= 0.5", "as_of": "date | null",
              "survivors": "bool"}

    def __init__(self, *, name: str, tickers: Sequence[str] | None, model: str, target: str,
                 market_input: Any, embedding: int, batch_size: int, warm_samples: int,
                 val_samples: int, n_jobs: int, spread_quantile: float, as_of: str | None,
                 file: str | None, survivors: bool, executor: str, dask: Any) -> None:
        # No defaults here: conf/universe/single.yaml holds them (backtests/settings/defaults.py).
        self.name, self.model, self.target = name, model, target
        self.tickers = [str(t) for t in tickers] if tickers else None  # checked by members()
        self.market_input, self.embedding, self.batch_size = market_input, embedding, batch_size
        self.warm_samples, self.val_samples = warm_samples, val_samples
        self.n_jobs, self.spread_quantile, self.as_of = n_jobs, spread_quantile, as_of
        self.file, self.survivors = file, survivors
        self.executor, self.dask = executor, dask  # where per-ticker work runs (pipeline/workers.py)
        self._membership: Membership | None = None

    @property
    def membership(self) -> Membership | None:
        """The point-in-time membership (universe.file), or None: every member on every date
        (a list, a folder, a preset, or `survivors`: the file's last members run back in time)."""
        if not self.file or self.survivors:
            return None
        if self._membership is None:
            self._membership = read_membership(self.file)
        return self._membership

    @property
    def label(self) -> str:
        """What reports, folders and the ledger call it: its name, or a list's `list_name`."""
        return list_name(self.tickers) if self.name == "single" and self.tickers else self.name

    def members(self, data: DictConfig) -> list[str]:
        """The tickers asked for: the list, every ticker of the membership file (with `survivors`:
        only its members on its last date), or every `<TICKER>.csv` of `data.path` for `folder`."""
        if self.file:
            spells = read_membership(self.file)
            return spells.today() if self.survivors else spells.tickers
        if self.tickers:
            return sorted(dict.fromkeys(check_ticker(t) for t in self.tickers))
        if self.name != "folder":
            hint = ("give universe.file=PATH: a membership file" if self.name == "membership" else
                    "give universe.tickers=[AAPL,MSFT,...] or use universe=folder")
            raise UserError(f"universe={self.name} lists no tickers", hint)
        given = OmegaConf.select(data, "path", default=None)
        if not given:
            raise UserError("universe=folder reads every <TICKER>.csv of data.path, and this data "
                            "source has no data.path", "use data=csv data.path=DIR")
        path = Path(str(given)).expanduser()
        if not path.is_dir():
            raise UserError(f"universe=folder needs data.path to be a folder; {path} is not one",
                            "use data=csv data.path=DIR where DIR holds <TICKER>.csv files")
        found = sorted(t for p in path.glob("*.csv") if (t := file_ticker(p)) is not None)
        if not found:
            raise UserError(f"no <TICKER>.csv files in {path}",
                            "name each file after its ticker in upper case, e.g. MSFT.csv")
        return found


def is_universe_run(cfg: DictConfig) -> bool:
    """True when the config asks for more than today's single ticker."""
    group = cfg.get("universe")
    return group is not None and not (group.get("name", "single") == "single"
                                      and not group.get("tickers"))


def ticker_source(data: DictConfig, ticker: str) -> Any:
    """The configured price source for one ticker (a synthetic market gets its own seed)."""
    extra: dict[str, Any] = {"ticker": ticker}
    if "seed" in data and str(data.get("_target_", "")).endswith("SyntheticSource"):
        extra["seed"] = int(data.seed) + zlib.crc32(ticker.encode()) % 100_000
    return instantiate(data, **extra)


def load_panel(data: DictConfig, tickers: Sequence[str],
               usable: Callable[[MarketData], None] | None = None,
               threads: int = 8) -> tuple[dict[str, MarketData], dict[str, str]]:
    """({ticker: data} of the tickers that loaded, {ticker: why} of those left out).

    `usable` may refuse a loaded ticker with a UserError (e.g. too little history for the schedule).
    Fewer than MIN_TICKERS usable tickers is not a universe: that is the user's mistake, raised as
    one, before any forecast is made.
    """
    def one(ticker: str) -> tuple[str, MarketData | None, str]:
        try:
            market = ticker_source(data, ticker).load(say_age=False)
            if usable is not None:
                usable(market)
            return ticker, market, ""
        except UserError as exc:
            return ticker, None, exc.message

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(tickers)))) as pool:
        results = list(pool.map(one, tickers))
    loaded = {t: m for t, m, _ in results if m is not None}
    say_age([(t, m.quality) for t, m in loaded.items()])
    left_out = {t: why for t, m, why in results if m is None}
    for ticker, why in left_out.items():
        log.warning("universe: leaving %s out: %s", ticker, why)
    if len(loaded) < MIN_TICKERS:
        reasons = [f"{t} ({why})" for t, why in sorted(left_out.items())]
        raise UserError(f"only {len(loaded)} of {len(tickers)} tickers can be used and a universe "
                        f"needs {MIN_TICKERS} (a daily IC over fewer names says nothing); left out: "
                        f"{first_few(reasons, 3) or 'none'}",
                        "add tickers with enough history, or check data.path, data.start and "
                        "the warnings above")
    log.info("universe: %d tickers loaded (%s)%s", len(loaded), first_few(sorted(loaded), 10),
             f"; {len(left_out)} left out" if left_out else "")
    return loaded, left_out
