"""What `run.py` calls: check the settings, run the configured mode, report user mistakes as one line.

Every user mistake, from an unknown config option (caught by Hydra before our code runs) to a bad
price file (found minutes later), ends the same way: `error: ...` and `hint: ...` on stderr and exit
status 2, without a traceback. Anything else is a bug and keeps a traceback. HYDRA_FULL_ERROR=1
shows the full traceback for both.

Hydra prints its own multi-line report for the errors it catches; `run` asks it to re-raise them
instead (by setting HYDRA_FULL_ERROR for the call, its documented switch) and translates them.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from backtests.data.symbols import check_ticker
from backtests.errors import UserError, as_user_error, from_resolver
from backtests.outputs.locations import log_locations, results_root
from backtests.outputs.results import discard_refused_run
from backtests.runcontext import in_multirun
from backtests.settings.keys import can_take, check_search_space
from backtests.settings.validate import validate
from backtests.sweeps.callback import ERROR_FILE, record_failure

log = logging.getLogger(__name__)

FULL_ERROR = "HYDRA_FULL_ERROR"
_asked_for_full_error: bool | None = None  # what the user set, before `run` changed it


def full_error_asked() -> bool:
    """True when the user wants every error with its full traceback."""
    if _asked_for_full_error is not None:
        return _asked_for_full_error
    return os.environ.get(FULL_ERROR) == "1"


def main(cfg: DictConfig) -> float | None:
    """Check every setting, then run `cfg.mode` (backtest, audit, predict)."""
    try:
        log_locations(cfg)  # first: where results, caches and the ledger are
        validate(cfg)  # before any data is read, any folder filled or TensorFlow imported
        task = instantiate(cfg.mode)
        return task(cfg)
    except Exception as exc:
        error = as_user_error(exc, can_take=can_take)
        if not in_multirun():  # sweeps record failures in SweepSummary.on_job_end
            _record_in_run_folder(cfg, exc, refused=error is not None)
        if error is None or full_error_asked():
            raise
        log.debug("user error", exc_info=True)
        if in_multirun():  # one job's mistake must not end the sweep: SweepSummary records it
            raise error from (None if error is exc else exc)
        report(error)


def _record_in_run_folder(cfg: DictConfig, exc: BaseException, refused: bool = False) -> None:
    """A failed run's folder says why: error.txt, and the error as the last line of run.log.

    A user mistake found before the run wrote anything (`refused`) leaves no folder at all.
    """
    folder = OmegaConf.select(cfg, "paths.output_dir", default=None, throw_on_resolution_failure=False)
    if not folder or not Path(folder).is_dir():
        return
    results = OmegaConf.select(cfg, "paths.results_dir", default=None, throw_on_resolution_failure=False)
    if refused and discard_refused_run(Path(folder), Path(results) / "runs" if results else None):
        return
    line = record_failure(Path(folder), exc)
    # Into run.log only: the console gets the error once, as the `error:` line.
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "run failed: %s (details in %s)",
                            (line, Path(folder) / ERROR_FILE), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def run(entry: Callable[[], Any]) -> None:
    """Call the `@hydra.main` function `entry`, turning Hydra's own errors into one line too."""
    global _asked_for_full_error
    _asked_for_full_error = os.environ.get(FULL_ERROR) == "1"
    if _asked_for_full_error:
        entry()
        return
    os.environ[FULL_ERROR] = "1"  # Hydra re-raises instead of printing its own report
    try:
        entry()
    except BrokenPipeError:  # e.g. `python run.py --cfg job | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        print("error: interrupted; files are only ever renamed into place, so nothing is "
              "half-written", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        error = as_user_error(exc, sys.argv[1:], can_take)
        if error is None:
            _print_bug(exc)
            sys.exit(1)
        report(error)
    finally:
        os.environ.pop(FULL_ERROR, None)


def report(error: UserError) -> NoReturn:
    """The one place that prints a user mistake: one error line, one hint line, exit status 2."""
    print(f"error: {_one_line(error.message)}", file=sys.stderr)
    if error.hint:
        print(f"hint: {_one_line(error.hint)}", file=sys.stderr)
    sys.exit(2)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _print_bug(exc: BaseException) -> None:
    """A traceback without Hydra's and OmegaConf's own frames (a bug: worth reporting)."""
    internal = re.compile(r"[/\\](hydra|omegaconf)[/\\]")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not internal.search(f.filename)]
    sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)))
    sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
    sys.stderr.write(f"\nThis is a bug, not a settings problem. Set {FULL_ERROR}=1 for the "
                     "complete stack trace.\n")


class ValidateFirst(Callback):
    """Hydra callback: check the settings before Hydra creates the run folder.

    Hydra turns exceptions raised in callbacks into warnings, so a mistake is reported here and
    ends the process; with HYDRA_FULL_ERROR=1 this stays quiet and `main` raises it with its
    traceback instead.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, sweep=True)

    @staticmethod
    def _check(config: DictConfig, sweep: bool = False) -> None:
        if full_error_asked():
            return
        try:
            validate(config)
            if sweep:  # a search-space key no chosen component has: before the first trial
                check_search_space(config)
            logger = OmegaConf.select(config, "logger", default=None)
            if logger is not None:  # mlflow installed? create its store and experiment once, now
                instantiate(logger).prepare()
        except UserError as error:
            report(error)


def _ticker_folder(ticker: object) -> str:
    """`${ticker_folder:${ticker}}`: the checked ticker, so the run folder is never a path."""
    try:
        return check_ticker(ticker)
    except UserError as error:
        raise from_resolver(error) from None


def _run_label(ticker: object, universe: object = "single", tickers: object = None,
               mode: object = None, path: object = None) -> str:
    """`${run_label:...}`: the run folder's ticker part: the ticker, or `universe-<name>` for a
    universe run (a list given on the command line is named after its members: `universe-A+B`);
    an inspection of a folder of CSV files is `folder-<its name>`, not the default ticker's."""
    from pathlib import Path

    from backtests.data.universe import list_name

    if str(universe) == "single" and not tickers:
        if str(mode) == "inspect" and path and Path(str(path)).expanduser().is_dir():
            return "folder-" + _name_folder(Path(str(path)).expanduser().resolve().name)
        return _ticker_folder(ticker)
    if str(universe) != "single":
        return "universe-" + _name_folder(universe)
    try:
        return "universe-" + _name_folder(list_name(list(tickers)))  # type: ignore[call-overload]
    except UserError as error:
        raise from_resolver(error) from None


# Modes that look at data, not at a strategy: their folders are filed by mode and ticker only
# (the zoo forecasts and scores many models; it trades no strategy).
DATA_MODES = ("inspect", "ledger", "zoo")


def _mode_folder(mode: object, strategy: object) -> str:
    """`${mode_folder:...}`: `<mode>/<strategy>` of a run folder, or `<mode>` for inspect/ledger/zoo."""
    if str(mode) in DATA_MODES:
        return _name_folder(mode)
    return f"{_name_folder(mode)}/{_name_folder(strategy)}"


def _name_folder(name: object) -> str:
    """`${name_folder:...}`: a config choice as one plain folder name ('a/b' -> 'a-b')."""
    text = re.sub(r"[^\w.=+-]", "-", str(name)).lstrip(".")
    return text or "_"


def _default_ticker(path: object, target: object = None) -> str:
    """`${default_ticker:${oc.select:data.path,null},${oc.select:data._target_,null}}`: the ticker a
    CSV file's name says (`data.path=dir/TSLA.csv` -> TSLA), else the data source's own
    `default_ticker` (MSFT; SYN for the synthetic market); an explicit `ticker=` replaces it."""
    import importlib
    from pathlib import Path

    from backtests.data.base import PriceSource
    from backtests.data.csv import file_ticker

    found = file_ticker(Path(str(path)).expanduser()) if path else None
    if found:
        return found
    module, _, name = str(target or "").rpartition(".")
    try:
        source = getattr(importlib.import_module(module), name) if module else PriceSource
    except (ImportError, AttributeError):  # a misspelt _target_ is reported when it is built
        source = PriceSource
    return str(getattr(source, "default_ticker", PriceSource.default_ticker))


OmegaConf.register_new_resolver("ticker_folder", _ticker_folder, replace=True)
OmegaConf.register_new_resolver("default_ticker", _default_ticker, replace=True)
OmegaConf.register_new_resolver("name_folder", _name_folder, replace=True)
OmegaConf.register_new_resolver("run_label", _run_label, replace=True)
OmegaConf.register_new_resolver("mode_folder", _mode_folder, replace=True)
OmegaConf.register_new_resolver("results_root", results_root, replace=True)
