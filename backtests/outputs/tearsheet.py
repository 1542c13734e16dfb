"""The QuantStats HTML tearsheet, generated offline: no browser, no download.

Three things keep it consistent with report.html, metrics.json and returns.csv:
- `match_dates=False`: QuantStats' default starts the page at the strategy's first non-zero return
  (its first trade), so buy-and-hold was analysed over a shorter period than everywhere else.
- Its end-of-year chart is replaced: QuantStats 0.0.86 under pandas 3 draws the bars at period
  ordinals but labels the ticks from another origin, so every bar carried the next year's label.
- Charts keep their text as SVG text (not glyph outlines), so their dates can be read and tested,
  and the `CAGR﹪` label loses the small-percent character most fonts lack.
- "Time in Market" is ours (pipeline/metrics.py: days a position was held at some moment), shown
  as report.html shows it (one decimal): QuantStats' own counts days with a non-zero return and
  rounds up to a whole percent, so a held day whose close did not move made the pages disagree.
"""
from __future__ import annotations

import html
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.atomic import atomic_path, write_text
from backtests.pipeline.metrics import TRADING_DAYS

log = logging.getLogger(__name__)


def write_tearsheet(path: Path, strategy: pd.Series, benchmark: pd.Series, title: str,
                    periods_per_year: int = TRADING_DAYS, benchmark_name: str = "Buy and hold",
                    time_in_market: tuple[float, float] | None = None) -> None:
    """QuantStats tearsheet of `strategy` against the `benchmark` returns (never a download).

    `time_in_market`: (strategy, benchmark) as metrics.json holds them; the page shows them in
    place of QuantStats' own estimate (None keeps QuantStats'). QuantStats cannot fit its
    regressions to returns that never move (a strategy that never traded) or to a handful of
    days; then the page says so instead of the run failing.
    """
    import matplotlib

    qs = quantstats()

    # QuantStats puts the title into its page unescaped; our titles are checked symbols and dates,
    # escaping keeps it that way for any name a user gives.
    title = html.escape(title)
    strategy = strategy.rename("Strategy")
    benchmark = benchmark.rename(benchmark_name)
    if len(strategy) < 5:
        _explain(path, title, f"the test period has only {len(strategy)} days")
        return
    if np.allclose(strategy.to_numpy(), 0.0):
        _explain(path, title, f"the strategy's returns are zero on every one of {len(strategy)} "
                 "days (it never held a position), so there is nothing to analyse")
        return
    try:
        with atomic_path(path) as tmp, warnings.catch_warnings(), _our_charts(qs), \
                _our_exposure(qs, time_in_market), _quantstats_globals(), \
                matplotlib.rc_context(_tearsheet_style()):
            warnings.simplefilter("ignore")  # QuantStats' own matplotlib/pandas deprecation noise
            # output= keeps QuantStats from opening a browser; a Series benchmark keeps it offline.
            qs.reports.html(strategy, benchmark=benchmark, output=str(tmp), title=title,
                            periods_per_year=periods_per_year, download_filename=path.name,
                            match_dates=False)
            tmp.write_text(_self_contained(tmp.read_text(encoding="utf-8")), encoding="utf-8")
    except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        _explain(path, title, f"QuantStats could not analyse these returns ({exc})")


_STYLE: dict[str, Any] = {}  # the matplotlib settings QuantStats' import sets: its tearsheet's look


def quantstats() -> Any:
    """QuantStats, imported without restyling this process's figures.

    Importing it applies a seaborn style to matplotlib's global settings, so every figure drawn
    after it (forecast.png, risk.png, ...) looked different from one drawn before it: the same run
    drew other bytes depending on whether its tearsheet came first or from the cache, or ran in
    another process. The import runs inside `rc_context`, which puts every setting back; what it
    changed is kept in `_STYLE` for the tearsheet alone. It also registers pandas' date
    converters with matplotlib and has seaborn redefine the one-letter colours ("k" became a
    dark grey): both undone.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # ~130 "Arial" lines
    if "quantstats" in sys.modules and _STYLE:
        return sys.modules["quantstats"]
    from pandas.plotting import deregister_matplotlib_converters

    codes = matplotlib.colors.ColorConverter.colors  # "k", "b", ...: seaborn redefines them
    letters = {code: codes[code] for code in "bgrcmyk"}
    with matplotlib.rc_context():
        before = dict(matplotlib.rcParams)
        import quantstats as qs

        _STYLE.update({key: value for key, value in matplotlib.rcParams.items()
                       if str(value) != str(before.get(key))})
    deregister_matplotlib_converters()  # its import also registered pandas' date converters
    _LETTERS.update({code: codes[code] for code in letters})
    _set_letters(letters)
    return qs


_LETTERS: dict[str, Any] = {}  # the one-letter colours as seaborn defines them: the tearsheet's


def _set_letters(letters: dict[str, Any]) -> None:
    import matplotlib

    codes = matplotlib.colors.ColorConverter.colors
    codes.update(letters)
    getattr(codes, "cache", {}).clear()  # matplotlib caches colour lookups


@contextmanager
def _quantstats_globals() -> Iterator[None]:
    """pandas' matplotlib date converters and seaborn's one-letter colours, as QuantStats'
    charts had them, for the tearsheet alone (the run's figures keep matplotlib's own)."""
    import matplotlib
    from pandas.plotting import deregister_matplotlib_converters, register_matplotlib_converters

    codes = matplotlib.colors.ColorConverter.colors
    ours = {code: codes[code] for code in _LETTERS}
    register_matplotlib_converters()
    _set_letters(_LETTERS)
    try:
        yield
    finally:
        _set_letters(ours)
        deregister_matplotlib_converters()


def _tearsheet_style() -> Any:
    """QuantStats' own style, and charts that keep their text as SVG text."""
    return {**_STYLE, "svg.fonttype": "none"}


@contextmanager
def _swapped(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    """`owner.name` is `replacement` inside the block, and what it was again after it."""
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _our_charts(qs: Any) -> Any:
    """Swap QuantStats' end-of-year chart for `yearly_returns_chart` while the page is drawn."""
    return _swapped(qs.plots, "yearly_returns", yearly_returns_chart)


@contextmanager
def _our_exposure(qs: Any, figures: tuple[float, float] | None) -> Iterator[None]:
    """QuantStats' `exposure` answers with our time in market while the page is drawn.

    Its metrics table calls it on a frame whose benchmark column is named "benchmark"; the value
    is rounded to a tenth of a percent, as report.html shows it, so both pages print one string.
    """
    if figures is None:
        yield
        return
    strategy, benchmark = (float(f"{100 * value:.1f}") / 100 for value in figures)

    def exposure(returns: Any, prepare_returns: bool = True) -> Any:
        if isinstance(returns, pd.DataFrame):
            return pd.Series({c: benchmark if c == "benchmark" else strategy for c in returns})
        return strategy

    with _swapped(qs.stats, "exposure", exposure):
        yield


def yearly_returns(returns: pd.Series) -> pd.Series:
    """Compounded return of each calendar year, indexed by the year (an int)."""
    growth = (1 + returns.astype("float64")).groupby(returns.index.year).prod() - 1
    growth.index = growth.index.astype(int)
    return growth


def yearly_returns_chart(returns: pd.Series, benchmark: pd.Series | None = None,
                         figsize: tuple[float, float] = (8, 4), savefig: Any = None,
                         show: bool = False, **_: Any) -> Any:
    """End-of-year returns as bars labelled with their own year (QuantStats' call signature)."""
    import matplotlib.pyplot as plt

    table = pd.DataFrame({returns.name or "Strategy": yearly_returns(returns)})
    if benchmark is not None:
        table[benchmark.name or "Benchmark"] = yearly_returns(benchmark.reindex(returns.index))
    fig, ax = plt.subplots(figsize=figsize)
    x = np.arange(len(table))
    width = 0.8 / len(table.columns)
    for i, (column, colour) in enumerate(zip(table.columns, ("#348dc1", "#fedd78"))):
        ax.bar(x + (i - (len(table.columns) - 1) / 2) * width, 100 * table[column], width,
               label=column, color=colour)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [str(year) for year in table.index])
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
    ax.set_title("EOY Returns" + (" vs Benchmark" if benchmark is not None else ""),
                 fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=9, frameon=False)
    fig.tight_layout()
    if savefig:
        fig.savefig(**savefig) if isinstance(savefig, dict) else fig.savefig(savefig)
    if show:
        plt.show()
    plt.close(fig)
    return None if show else fig


def _self_contained(page: str) -> str:
    """Strip what QuantStats 0.0.86's template gets wrong offline: `<body onload="save()">` calls a
    function the page never defines (a console error), and its favicon is fetched from the web.
    Its `CAGR﹪` label uses a character (U+FE6A) most fonts lack: it showed as a box."""
    page = page.replace('<body onload="save()">', "<body>").replace("\ufe6a", "")
    return re.sub(r'<link rel="shortcut icon" href="https?://[^"]*"[^>]*>',
                  '<link rel="icon" href="data:,">', page)


def _explain(path: Path, title: str, reason: str) -> None:
    log.warning("tearsheet: %s; writing a short page that says so", reason)
    write_text(path, "<!doctype html><html><head><meta charset='utf-8'><title>"
               f"{title}</title></head><body><h1>{title}</h1><p>No QuantStats tearsheet: "
               f"{html.escape(reason)}. See metrics.json and returns.csv.</p></body></html>\n")
