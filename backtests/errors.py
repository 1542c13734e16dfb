"""The one exception type for user mistakes, and the translation of Hydra's errors into it.

A user mistake is printed as one `error:` line and one `hint:` line, never a traceback; anything
that does not translate to a UserError is a bug and keeps its traceback.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sequence


class UserError(Exception):
    """A problem the user can fix (bad input, missing data, bad settings).

    `run.py` prints it as one line plus a hint and exits non-zero; anything else is a bug and keeps
    its traceback.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


def first_few(items: Sequence[object], limit: int = 5) -> str:
    """The first `limit` items joined by commas, then 'and N more': a list is never cut silently."""
    shown = ", ".join(str(item) for item in items[:limit])
    more = len(items) - limit
    return f"{shown} and {more} more" if more > 0 else shown


_raised_in_resolver: UserError | None = None


def from_resolver(error: UserError) -> UserError:
    """Remember `error`, raised inside an OmegaConf resolver, so it can be reported as itself."""
    global _raised_in_resolver
    _raised_in_resolver = error
    return error


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


# (a component's `_target_`, a key) -> can that component take the key? (settings/keys.py)
CanTake = Callable[[object, str], bool]

# The optional sweeper's install command (docs "Sweeps and the ledger"; .ci/run does the same).
OPTUNA_INSTALL = ('python -m venv .venv-optuna && .venv-optuna/bin/pip install -c constraints-optuna.txt '
                  '-e ".[test,optuna]"')


def as_user_error(exc: BaseException, argv: Sequence[str] = (),
                  can_take: CanTake | None = None) -> UserError | None:
    """The UserError behind `exc`, or one made from a Hydra/OmegaConf config error; else None.

    `argv` (the command-line overrides) lets an unparsable override be named; `can_take` keeps the
    hint for an unknown key from suggesting `+key=` to a component that cannot take it.
    """
    from hydra.errors import (
        CompactHydraException,
        ConfigCompositionException,
        InstantiationException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import (
        ConfigAttributeError,
        ConfigKeyError,
        InterpolationResolutionError,
        MissingMandatoryValue,
    )

    for link in _chain(exc):
        if isinstance(link, UserError):
            return link
    if isinstance(exc, MissingConfigException) and exc.options and exc.missing_cfg_file:
        group, _, name = str(exc.missing_cfg_file).rpartition("/")
        if (group, name) == ("hydra/sweeper", "optuna"):  # an optional extra (pyproject.toml)
            return UserError("hparams_search=optuna needs the Hydra Optuna sweeper, which is not "
                             "installed in this environment",
                             f"install it in its own environment (it needs SQLAlchemy < 2, MLflow's "
                             f"UI needs 2): {OPTUNA_INSTALL}")
        options = sorted(exc.options)
        close = difflib.get_close_matches(name, options, n=1)
        lead = f"did you mean {group}={close[0]}? " if close else ""
        return UserError(f"there is no {group} called {name!r}",
                         f"{lead}choose one of: {', '.join(options)}")
    if isinstance(exc, OverrideParseException):
        culprit = _unparsable(argv)
        what = f"the override {culprit!r}" if culprit else "an override"
        return UserError(f"cannot read {what}: {_first_line(exc)}",
                         "write overrides as key=value; quote values holding spaces or brackets")
    if isinstance(exc, ConfigCompositionException) and isinstance(
            exc.__cause__, (ConfigKeyError, ConfigAttributeError)):
        return _unknown_key(exc.__cause__, can_take)
    if isinstance(exc, InstantiationException):
        key = getattr(exc, "full_key", None) or "that group"
        if isinstance(exc.__cause__, ValueError):
            # A config target's constructor refused its arguments: a settings problem.
            return UserError(_first_line(exc.__cause__), f"check the {key} settings")
        if any(isinstance(link, ImportError) for link in _chain(exc)):
            return UserError(_first_line(exc).split(", set env var")[0],
                             f"check {key}._target_ (a module.Class path)")
        return None  # anything else raised while building an object is a bug: keep the traceback
    if isinstance(exc, MissingMandatoryValue):
        key = getattr(exc, "full_key", "") or "a setting"
        return UserError(f"{key} is not set", f"add {key}=... on the command line")
    if isinstance(exc, InterpolationResolutionError):
        if _raised_in_resolver is not None and _raised_in_resolver.message in str(exc):
            return _raised_in_resolver  # OmegaConf keeps only the text of a resolver's exception
        return UserError(f"a setting cannot be resolved: {_first_line(exc)}",
                         "check the ${...} references in your overrides")
    if isinstance(exc, CompactHydraException):  # composition and search-path errors
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        ambiguous = re.match(r"Ambiguous value for argument '([^=']+)=([^']*)'", lines[0] if lines else "")
        if ambiguous:  # a comma list without -m: most often a sweep the user meant to run
            key, value = ambiguous.groups()
            listed = (f"to run them as one universe write universe.tickers=[{value}]"
                      if key == "ticker" else f"for a list write {key}=[{value}]")
            return UserError(f"{key}={value} holds several values but this is a single run",
                             f"to sweep over them add -m (python run.py -m {key}={value} ...); "
                             f"{listed}; for one string quote it: {key}='\"{value}\"'")
        hint = (" ".join(lines[1:]) if len(lines) > 1
                else "see `python run.py --help` for the config groups")
        return UserError(lines[0] if lines else type(exc).__name__, hint)
    return None


def _unknown_key(error: BaseException, can_take: CanTake | None = None) -> UserError:
    full_key = str(getattr(error, "full_key", "") or getattr(error, "key", "?"))
    key = str(getattr(error, "key", full_key))
    parent = getattr(error, "parent_node", None)
    known = sorted(str(k) for k in (parent.keys() if parent is not None else [])
                   if not str(k).startswith("_") and str(k) != "hydra")
    close = difflib.get_close_matches(key, known, n=1)
    section = full_key.rpartition(".")[0]
    prefix = f"{section}." if section else ""
    lead = f"did you mean {prefix}{close[0]}? " if close else ""
    where = f"{section} settings" if section else "top-level settings and groups"
    target = parent.get("_target_", None) if parent is not None else None
    if target is not None and can_take is not None and not can_take(target, key):
        name = str(target).rpartition(".")[2]
        return UserError(f"{full_key} is not a setting: {name} takes no {key!r}",
                         f"{lead}{where}: {', '.join(known) or 'none'}")
    return UserError(f"{full_key} is not a setting",
                     f"{lead}{where}: {', '.join(known) or 'none'}; add a new key with +{full_key}=...")


def _unparsable(argv: Sequence[str]) -> str | None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in argv:
        if arg.startswith("-"):
            continue
        try:
            parser.parse_overrides([arg])
        except Exception:  # the parser raises OverrideParseException and grammar errors
            return arg
    return None
