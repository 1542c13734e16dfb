"""zoo.html: the model zoo's table (every model x feature set, mean and std over seeds, each model
against the baseline) and its IC curves (zoo.png). Self-contained like every page here."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.outputs.html import esc, figure, finite, fixed, page, pct, pvalue, sort_script, table
from backtests.outputs.plots import _pyplot, _save

# (column, header, formatter, with its std over seeds)
COLUMNS = (("ic", "IC", fixed(4), True), ("icir", "ICIR", fixed(3), True),
           ("rank_ic", "Rank IC", fixed(4), True), ("rank_icir", "Rank ICIR", fixed(3), True),
           ("topk_excess", "top-k excess / yr", pct, True), ("topk_ir", "top-k IR", fixed(2), True),
           ("mse_vs_persistence", "MSE / persistence", fixed(3), True),
           ("train_seconds", "train s", fixed(1), True))


def write_ic_curves(path: Path, daily: dict[tuple[str, str], pd.DataFrame]) -> None:
    """zoo.png: cumulative daily IC and Rank IC of each model and feature set (mean over seeds), a
    colour per model and a line style per feature set. The slope is the mean IC: a straight climb
    is steady skill, a flat line none."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(12, 8.5), sharex=True)
    colours, lines = plt.get_cmap("tab10"), ("-", "--", ":", "-.")
    models = list(dict.fromkeys(model for model, _ in daily))  # a colour per model,
    sets = list(dict.fromkeys(features for _, features in daily))  # a line style per feature set
    for (model, features), frame in daily.items():
        style = {"color": colours(models.index(model) % 10), "lw": 1.3,
                 "ls": lines[sets.index(features) % len(lines)]}
        for ax, score in zip(axes, ("ic", "rank_ic"), strict=True):
            ax.plot(frame.index, frame[score].fillna(0).cumsum(), label=f"{model} / {features}",
                    **style)
    for ax, name in zip(axes, ("IC", "Rank IC"), strict=True):
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(f"Cumulative daily {name} (mean over seeds); slope = mean {name}")
        ax.legend(fontsize=8, ncol=3, loc="upper left")
    fig.tight_layout()
    _save(fig, path)


def _with_std(row: pd.Series, column: str, show: Any, spread: bool) -> str:
    text = show(row[column])
    std = finite(row.get(f"{column}_std")) if spread else None
    return f"{text}<br><span class=s>&plusmn;{show(std).lstrip('+')}</span>" if std is not None else text


def render_zoo(table_rows: pd.DataFrame, info: dict[str, Any], folder: Path) -> str:
    """The whole page from zoo.csv's rows and the run's description `info`."""
    header = ["model", "features", "seeds", *[h for _, h, _, _ in COLUMNS],
              f"IC &minus; {esc(info['baseline'])}", "p (HAC)", "Holm",
              f"Rank IC &minus; {esc(info['baseline'])}", "p (HAC)", "Holm"]
    rows = []
    for _, row in table_rows.iterrows():
        cells = [esc(row["model"]), esc(row["features"]), str(int(row["seeds"]))]
        cells += [_with_std(row, c, show, spread) for c, _, show, spread in COLUMNS]
        for score in ("ic", "rank_ic"):
            diff = finite(row.get(f"{score}_vs_base"))
            klass = "" if diff is None else (" class=good" if diff > 0 else " class=bad")
            p = finite(row.get(f"{score}_vs_base_p"))
            holm = finite(row.get(f"{score}_vs_base_p_holm"))
            mark = "*" if holm is not None and holm < 0.05 else ""
            cells += [f"<span{klass}>{fixed(4)(diff)}</span>" if diff is not None else "–",
                      pvalue(p), pvalue(holm) + mark]
        rows.append(cells)
    days = f"{info['days']} test days, {esc(info['first'])} to {esc(info['last'])}"
    body = [
        "<style>.s{color:#7b8690;font-size:.85em}#zoo{font-size:13px}#zoo th,#zoo td{padding:.25em .45em}"
        "#zoo td{white-space:nowrap}#zoo th{cursor:pointer}body{max-width:1500px}</style>",
        f"<h1>Model zoo: {esc(info['label'])}</h1>",
        f"<p class=sub>{len(info['tickers'])} tickers ({esc(', '.join(info['tickers']))}), "
        f"universe.model={esc(info['universe_model'])}, seeds {esc(info['seeds'])}; {days}, the same "
        f"folds and days for every fit ({esc(info.get('schedule', ''))}). Mean &plusmn; std over "
        "seeds, as qlib's benchmark table.</p>",
        f"<p class=verdict>IC and Rank IC: the daily Pearson and Spearman correlation of forecast and "
        "next-day return across tickers; IR: mean / std of the daily values. top-k excess: the "
        f"equal-weight book of the {info['top_k']} highest forecasts each day over the equal-weight "
        "universe, next-day log returns, annualised (x252), no costs; its IR x&radic;252. MSE / "
        "persistence below 1 beats forecasting tomorrow's return as today's (persistence's error is "
        "about twice the returns' variance, so a forecast of zero already scores about 0.5). The "
        "last columns: the "
        f"daily IC minus {esc(info['baseline'])}'s on the same feature set and days (each averaged "
        "over seeds), with a Newey-West (HAC) t-test, its p raw and Holm-adjusted over the table's "
        "comparisons (many models against one: a raw p below 0.05 turns up by chance); * Holm p "
        "&lt; 0.05.</p>",
        table(header, rows).replace("<table>", '<table id="zoo">', 1),
        "".join(f"<p class=sub>Left out: <b>{esc(pair)}</b>: {esc(why)}</p>"
                for pair, why in info.get("left_out", {}).items()),
        figure(folder / "zoo.png", "Cumulative daily IC and Rank IC of every model and feature set"),
        '<p class=sub>Files: <a href="zoo.csv">zoo.csv</a> (this table), <a href="zoo_runs.csv">'
        'zoo_runs.csv</a> (every fit), <a href="zoo_ic.csv">zoo_ic.csv</a> (every fit\'s daily '
        "scores), zoo.json.</p>",
    ]
    return page(f"Model zoo: {info['label']}", "".join(body), sort_script("zoo"))


def plain(value: Any) -> Any:
    """JSON-friendly: NaN to None, numpy scalars to Python."""
    if isinstance(value, (np.floating, float)):
        return finite(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
