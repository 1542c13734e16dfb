"""A universe run's pages: report.html (what ran, the skill verdicts) and universe.html (the
sortable per-ticker table, IC over time, IC by fold). Self-contained like every page here.

With a portfolio strategy the report adds the portfolio against its equal-weight benchmark, the
portfolio's risk and the sentiment index (each from its metrics.json block); without one it says
that no portfolio was traded. Nor does it hide that today's members run back in time are survivors.
"""
from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.atomic import write_text
from backtests.outputs.explanations import TABLES, TICKERS, universe_model_label
from backtests.outputs.html import (
    esc,
    finite,
    fixed,
    num,
    page,
    settings_text,
    share,
    sort_script,
    table,
)
from backtests.outputs.sections.data import universe_data_section
from backtests.outputs.sections.explain import findings
from backtests.outputs.sections.live import live_section
from backtests.outputs.sections.portfolio import portfolio_section
from backtests.outputs.sections.risk import universe_risk_section
from backtests.outputs.sections.sentiment import sentiment_section
from backtests.outputs.sections.trials import trials_section
from forecasting.explain.drift import drift_summary

log = logging.getLogger(__name__)

QLIB = ("For scale: qlib's CSI300 benchmark (Alpha360 features, 20 seeds) reports a daily IC of "
        "0.045 and Rank IC 0.055 (ICIR 0.35) for its LSTM, 0.050 for ALSTM, 0.040 for LightGBM, 0.011 "
        "for a Transformer, over 300 names a day.")
NO_TRADES = ("No portfolio backtest: the strategy trades one ticker. strategy=topk or "
             "strategy=market_neutral trade this universe against its equal-weight benchmark.")
LINKS = ("universe.html", "metrics.json", "predictions.csv", "ic_daily.csv", "ic_folds.csv",
         "tearsheet.html", "returns.csv", "trades.csv", "weights.csv", "var.csv",
         "var_backtests.csv", "sentiment.csv", "distribution.csv", "run_info.json")
SURVIVORS = ("Survivorship bias: these tickers are chosen as they are known today{as_of}. Run back "
             "in time, they leave out the firms that fell out of the market or the index, so any "
             "skill and every return here is flattered.")
POINT_IN_TIME = ("Point-in-time membership ({file}): on each date only that date's members were "
                 "forecast, scored, traded and held in the benchmark; no survivorship bias from "
                 "the choice of names.")

CROSS_ROWS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("Mean daily IC (Pearson)", "ic", fixed(4)), ("IC std", "ic_std", fixed(4)),
    ("ICIR", "icir", lambda v: num(v, 3)), ("IC t-statistic", "ic_t", num),
    ("IC p-value (Holm over model and baselines)", "ic_pvalue_holm", lambda v: num(v, 3)),
    ("Mean daily Rank IC (Spearman)", "rank_ic", fixed(4)),
    ("Rank IC std", "rank_ic_std", fixed(4)), ("Rank ICIR", "rank_icir", lambda v: num(v, 3)),
    ("Rank IC t-statistic", "rank_ic_t", num),
    ("Top minus bottom quantile, mean next-day log return", "top_bottom_spread", lambda v: num(v, 5)),
    ("Spread t-statistic", "top_bottom_spread_t", num),
    ("Model IC minus this baseline's (paired daily mean)", "model_minus_baseline_ic", fixed(4)),
    ("... its t-statistic", "model_minus_baseline_ic_t", num),
    ("Days scored", "days", lambda v: num(v, 0)),
    ("Tickers per day (mean)", "names_per_day", lambda v: num(v, 1)))


def _image(folder: Path, name: str, caption: str) -> str:
    path = folder / name
    if not path.exists():
        return "<p>No plot (report.plots=false).</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def cross_section_table(cross: dict) -> str:
    """The model's cross-sectional figures beside each baseline's."""
    bases = cross.get("baselines") or {}
    header = ["Figure", "Model", *[esc(b) for b in bases]]
    rows = [[esc(label), show(cross.get(key)), *[show(b.get(key)) for b in bases.values()]]
            for label, key, show in CROSS_ROWS]
    return table(header, rows)


def _membership_text(u: dict, as_of: str) -> str:
    """The survivorship sentence: point in time, or today's members run back in time."""
    membership = u.get("membership") or {}
    if membership.get("point_in_time"):
        return POINT_IN_TIME.format(file=membership["file"])
    if membership.get("survivors"):
        as_of = f" (the last members of {membership['file']}, universe.survivors=true)"
    return SURVIVORS.format(as_of=as_of)


def _what_ran(metrics: dict, info: dict) -> str:
    u, config, period = metrics["universe"], info.get("config") or {}, metrics["test_period"]
    left = u.get("left_out") or {}
    rows = [("Universe", f"{u['name']}" + (f" (members as of {u['as_of']})" if u.get("as_of") else "")),
            ("Tickers", f"{len(u['tickers'])}: {', '.join(u['tickers'])}"),
            ("Left out", "; ".join(f"{t}: {why}" for t, why in left.items()) or "none"),
            ("Model", u["model"] + (_global_text(u, config.get("universe") or {})
                                    if u["model"] == "global" else ": each ticker's own walk-forward")),
            ("Forecaster", settings_text(config.get("forecaster"))),
            ("Strategy", settings_text(config.get("strategy")) if u.get("portfolio_backtest")
             else "none: the forecasts are scored, not traded"),
            ("Walk-forward", settings_text(config.get("walkforward"))),
            ("Test period", f"{period['start']} to {period['end']} ({period['days']} days)"),
            ("Seed", config.get("seed", "?")),
            ("Forecasts", _provenance(info.get("forecasts") or {}, len(u["tickers"]))),
            ("Code", f"git {info.get('git_commit') or 'unknown'}")]
    return table(("Setting", "Value"), ((esc(k), esc(v)) for k, v in rows), "info")


def _global_text(u: dict, settings: dict) -> str:
    """The global model's own settings (the forecaster row shows the network's)."""
    return (f", target {u['target']}, market input {'on' if u['market_input'] else 'off'}, "
            f"ticker embedding {settings.get('embedding', '?')}, batch {settings.get('batch_size', '?')}, "
            f"warm folds on {settings.get('warm_samples', '?')} samples (0: all)")


def _provenance(how: dict, tickers: int) -> str:
    """Where the forecasts came from: trained here, or the forecast cache."""
    if how.get("model") != "per_ticker":
        if int(how.get("trained", 0)) == 0:
            return f"one global model per fold, reused from the forecast cache ({how.get('cache_key')})"
        return f"one global model per fold, trained in this run (cache key {how.get('cache_key')})"
    trained = int(how.get("trained", 0))
    return (f"{trained} of {tickers} tickers' walk-forwards trained in this run, "
            f"{tickers - trained} reused from the forecast cache")


def _verdicts(metrics: dict) -> list[str]:
    """The run's one-line verdicts, most important first: trading, skill, risk, sentiment."""
    risk, sentiment = metrics.get("risk") or {}, metrics.get("sentiment") or {}
    found = [(metrics.get("portfolio") or {}).get("verdict"),
             metrics["cross_section"].get("verdict"), metrics["per_ticker_summary"].get("verdict"),
             risk.get("verdict") and f"Portfolio risk: {risk['verdict']}",
             sentiment.get("verdict") and f"Sentiment index: {sentiment['verdict']}",
             *(f"Forecast distributions: {block['verdict']}" for block in
               ((metrics.get("distribution") or {}).get("summary") or {}).values())]
    return [v for v in found if v]


def render_report(folder: Path, metrics: dict, info: dict) -> str:
    u, cross, summary = metrics["universe"], metrics["cross_section"], metrics["per_ticker_summary"]
    period = metrics["test_period"]
    title = (f"Universe {u['name']} · {u['model']} · {len(u['tickers'])} tickers · "
             f"{period['start']} to {period['end']}")
    links = " · ".join(f'<a href="{n}">{n}</a>' for n in LINKS
                       if n in ("universe.html", "metrics.json") or (folder / n).exists())
    as_of = f" (members as of {u['as_of']})" if u.get("as_of") else ""
    body = [f"<h1>{esc(title)}</h1>", f'<p class="sub">{links}</p>',
            f'<div class="verdict">{"<br>".join(esc(v) for v in _verdicts(metrics))}</div>',
            "" if u.get("portfolio_backtest") else f"<p><b>{esc(NO_TRADES)}</b></p>",
            f"<p>{esc(_membership_text(u, as_of))}</p>",
            "<h2>What ran</h2>", _what_ran(metrics, info),
            "<h2>Cross-sectional skill against its baselines</h2>", cross_section_table(cross),
            f"<p>Ridge: the same windows, a linear fit; reversal: minus today's return (short-term "
            f"reversal); drift: each ticker's mean daily return so far (survivors that rose keep "
            f"rising: a model that only learns each ticker's mean scores this). {esc(QLIB)}</p>",
            _looks_at(folder, info.get("config") or {}, u["model"]),
            "<h2>Per ticker</h2>",
            f'<p>{esc(summary["verdict"])} The sortable table, IC over time and IC by fold are on '
            f'<a href="universe.html">the universe page</a>.</p>',
            *portfolio_section(metrics, folder),
            *universe_data_section(metrics.get("data") or {}, u.get("left_out") or {}),
            *universe_risk_section(metrics.get("risk"), folder),
            *sentiment_section(metrics.get("sentiment"), folder),
            *(["<h2>Trials on this data</h2>", trials_section(metrics.get("trials"))]
              if u.get("portfolio_backtest") else []),
            *live_section(metrics.get("live"))]
    return page(title, "".join(body))


def _looks_at(folder: Path, config: dict, kind: str) -> str:
    """The universe's attributions in a sentence or three, with the files (or "" if none).

    `kind`: universe.model. The global model is one network per fold, shuffled across tickers;
    per-ticker models are each ticker's own walk-forward, pooled by refit date.
    """
    if not all((folder / name).exists() for name in (*TABLES, TICKERS)):
        return ""
    features, lags, _, folds = (pd.read_csv(folder / name) for name in TABLES)
    model = universe_model_label(kind, config.get("forecaster"))
    links = " · ".join(f'<a href="{n}">{n}</a>' for n in TABLES)
    text = findings(features, lags, drift_summary(folds), model)
    if kind == "per_ticker":
        heading = "What the per-ticker models look at"
        how = ("Pooled over every ticker's out-of-sample windows, each explained by that "
               "ticker's own model (inputs shuffled within its windows; refits on the same date "
               "pooled as one); each ticker's own figures, as its single run writes them, in ")
    else:
        heading = "What the global model looks at"
        how = ("Pooled over every ticker's out-of-sample windows (inputs shuffled across tickers); "
               "each ticker's own, shuffled within its windows, in ")
    return (f"<h2>{heading}</h2><p>{esc(text)} {esc(how)}"
            f'<a href="{TICKERS}">{TICKERS}</a>. Pooled: {links}.</p>')


TICKER_COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("samples", "Forecasts", lambda v: num(v, 0)), ("mse_ratio", "MSE / persistence", lambda v: num(v, 3)),
    ("ridge_mse_ratio", "Ridge MSE / persistence", lambda v: num(v, 3)),
    ("dm_statistic", "DM stat", num), ("dm_pvalue", "DM p", lambda v: num(v, 3)),
    ("dm_pvalue_holm", "Holm p", lambda v: num(v, 3)), ("dm_pvalue_bh", "BH p", lambda v: num(v, 3)),
    ("directional_accuracy", "Dir. accuracy", share), ("up_share", "Up days", share),
    ("ts_corr", "Corr(forecast, outcome)", fixed(4)))


def ticker_table(per_ticker: dict) -> str:
    """The per-ticker table, sortable by any column (cells carry their raw value in data-v)."""
    head = '<th data-key="ticker">Ticker</th>' + "".join(
        f'<th data-key="{key}">{esc(label)}</th>' for key, label, _ in TICKER_COLUMNS)
    body = []
    for ticker, row in per_ticker.items():
        cells = [f'<td data-v="{esc(ticker)}">{esc(ticker)}</td>']
        for key, _, show in TICKER_COLUMNS:
            value = finite(row.get(key))
            mark = " class=\"good\"" if key == "dm_pvalue_holm" and row.get("beats_persistence_holm") else ""
            cells.append(f'<td data-v="{"" if value is None else value}"{mark}>{show(row.get(key))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="wide"><table id="tickers"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def render_universe(folder: Path, metrics: dict) -> str:
    u, summary, cross = metrics["universe"], metrics["per_ticker_summary"], metrics["cross_section"]
    title = f"Universe {u['name']} · {u['model']}: per ticker and across tickers"
    folds = cross.get("by_fold") or []
    fold_rows = [[esc(f["fold"]), esc(f.get("start", "")), num(f.get("days"), 0),
                  fixed(4)(f.get("forecast_ic")), fixed(4)(f.get("forecast_rank_ic")),
                  fixed(4)(f.get("ridge_ic")), fixed(4)(f.get("reversal_ic")), fixed(4)(f.get("drift_ic"))]
                 for f in folds]
    body = [f"<h1>{esc(title)}</h1>", '<p class="sub"><a href="report.html">report.html</a></p>',
            f'<div class="verdict">{esc(summary["verdict"])}</div>',
            "<h2>Per ticker (click a header to sort)</h2>", ticker_table(metrics["per_ticker"]),
            "<p>MSE ratios below 1 beat persistence (a zero return). Holm and Benjamini-Hochberg "
            "adjust the DM p-values for testing every ticker; green: significant after Holm.</p>",
            "<h2>IC over time and by fold</h2>",
            _image(folder, "ic.png", "Rank IC over time and mean IC per walk-forward fold"),
            table(("Fold", "Start", "Days", "IC", "Rank IC", "Ridge IC", "Reversal IC", "Drift IC"),
                  fold_rows)]
    return page(title, "".join(body), sort_script("tickers"))


def write_universe_pages(folder: Path, metrics: dict, info: dict) -> None:
    """report.html and universe.html (both before metrics.json, which marks the run complete)."""
    write_text(folder / "universe.html", render_universe(folder, metrics))
    write_text(folder / "report.html", render_report(folder, metrics, info))
    log.info("report: %s (per ticker: %s)", folder / "report.html", folder / "universe.html")
