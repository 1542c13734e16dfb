"""report.html: the page a user opens first, one self-contained file per run.

It answers "what ran, did it beat buy-and-hold, did the forecast beat its baselines" from the
numbers already in metrics.json and run_info.json, with the run's plots embedded as data URIs so
the file can be mailed or archived alone. No CDN, no script. Every string that came from the user
(ticker, paths, settings) is HTML-escaped. The page helpers here are shared with the sweep summary.
"""
from __future__ import annotations

import base64
import html
import logging
import math
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from backtests.atomic import write_text

log = logging.getLogger(__name__)

MAX_TRADES = 300  # rows shown; trades.csv holds them all
PLOTS = (("forecast.png", "Forecast of the next close against the actual close; strategy and "
          "buy-and-hold equity"),
         ("forecast_skill.png", "Rolling directional accuracy against the share of up days; MSE "
          "per walk-forward fold against persistence"))
HIDDEN_KEYS = ("_target_", "_partial_", "_convert_")

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2329;
 margin:0 auto;max-width:1180px;padding:18px 22px 60px;background:#fff}
h1{font-size:1.45em;margin:.2em 0 .1em}h2{font-size:1.15em;margin:1.6em 0 .5em;
 border-bottom:1px solid #dde2e6;padding-bottom:.2em}
.sub{color:#5b6770;margin:0 0 1em}.verdict{background:#f3f6f9;border-left:4px solid #4a7bb7;
 padding:.6em .9em;margin:.8em 0}
table{border-collapse:collapse;margin:.3em 0 1em;font-variant-numeric:tabular-nums}
th,td{padding:.28em .7em;border-bottom:1px solid #e6e9ec;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa;font-weight:600}
table.info td,table.info th{text-align:left}table.info td:first-child{color:#5b6770;white-space:nowrap}
.wide{overflow-x:auto}img{max-width:100%;height:auto;border:1px solid #e6e9ec}
.good{color:#1a7f37}.bad{color:#c0392b}a{color:#2357a4}code{font-size:.92em}
"""


def esc(value: Any) -> str:
    """HTML-escaped text of any value (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def finite(value: Any) -> float | None:
    """`value` as a float, or None when it is missing, not a number, NaN or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def pct(value: Any, digits: int = 1) -> str:
    number = finite(value)
    return "–" if number is None else f"{100 * number:+.{digits}f}%"


def share(value: Any, digits: int = 1) -> str:
    """A proportion (time in market, hit rate) as a percentage without a sign."""
    number = finite(value)
    return "–" if number is None else f"{100 * number:.{digits}f}%"


def num(value: Any, digits: int = 2) -> str:
    number = finite(value)
    if number is None:
        return "–"
    tiny = number != 0 and abs(number) < 10 ** -digits
    return f"{number:.{digits}e}" if tiny else f"{number:.{digits}f}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """An HTML table from already-escaped cell strings."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    klass = f' class="{css}"' if css else ""
    return (f'<div class="wide"><table{klass}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def page(title: str, body: str, script: str = "") -> str:
    """A complete page: inline style (and script), no external resource, not even a favicon."""
    extra = f"<script>{script}</script>" if script else ""
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<link rel=\"icon\" href=\"data:,\"><title>{esc(title)}</title><style>{CSS}</style>"
            f"</head><body>{body}{extra}</body></html>\n")


def settings_text(group: Any) -> str:
    """`class(key=value, ...)` for one config group, e.g. the forecaster or the strategy."""
    if not isinstance(group, dict):
        return "none" if group is None else str(group)
    name = str(group.get("_target_", "")).rpartition(".")[2]
    params = ", ".join(f"{k}={v}" for k, v in group.items()
                       if k not in HIDDEN_KEYS and not isinstance(v, (dict, list)))
    return f"{name}({params})" if name else params


def write_report(path: Path, metrics: dict, run_info: dict, trades: pd.DataFrame) -> None:
    """Write report.html beside the run's plots and tearsheet (which it embeds or links)."""
    write_text(path, render_report(path.parent, metrics, run_info, trades))
    log.info("report: %s", path)


def render_report(folder: Path, metrics: dict, run_info: dict, trades: pd.DataFrame) -> str:
    """The report page for the run folder `folder` (reads only its PNGs, importance tables and the
    tearsheet's presence)."""
    from backtests.explain_report import explain_section  # it uses this module's page helpers

    config, command = run_info.get("config") or {}, run_info.get("command") or {}
    data, period = metrics.get("data") or {}, metrics.get("test_period") or {}
    strategy_name = command.get("strategy") or settings_text(config.get("strategy")).split("(")[0]
    ticker = command.get("ticker") or data.get("ticker", "?")
    title = f"{ticker} · {strategy_name} · {period.get('start', '?')} to {period.get('end', '?')}"
    s, b = metrics.get("strategy") or {}, metrics.get("benchmark") or {}
    has_tearsheet = (folder / "tearsheet.html").exists()
    links = ['<a href="tearsheet.html">QuantStats tearsheet</a>'] if has_tearsheet else []
    # Written just before these files: they exist once the run is complete (metrics.json last).
    links += [f'<a href="{name}">{name}</a>' for name in
              ("metrics.json", "trades.csv", "returns.csv", "predictions.csv", "run_info.json")]
    forecast = metrics.get("forecast") or {}
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">{" · ".join(links)}</p>',
        f'<div class="verdict">{_headline(s, b)}<br>{esc(forecast.get("verdict", ""))}</div>',
        "<h2>What ran</h2>",
        _what_ran(config, command, run_info, data, period, ticker, strategy_name),
        "<h2>Strategy against buy and hold</h2>", _performance(s, b),
        "<h2>Forecast skill against its baselines</h2>", _skill(forecast, config),
        "<h2>Plots</h2>", _plots(folder),
        explain_section(folder, config),
        f"<h2>Trades ({len(trades)})</h2>", _trades(trades),
    ]
    return page(title, "".join(body))


def _headline(s: dict, b: dict) -> str:
    excess = finite(s.get("excess_total_return"))
    mark = "" if excess is None else (' class="good"' if excess > 0 else ' class="bad"')
    return (f"Strategy total return <b{mark}>{pct(s.get('total_return'))}</b> against buy and hold "
            f"<b>{pct(b.get('total_return'))}</b> (excess {pct(excess)}); Sharpe "
            f"{num(s.get('sharpe'))} against {num(b.get('sharpe'))}.")


def _what_ran(config: dict, command: dict, info: dict, data: dict, period: dict, ticker: str,
              strategy: str) -> str:
    risk = config.get("risk")
    rules = ({k: v for k, v in risk.items() if k not in HIDDEN_KEYS and v is not None}
             if isinstance(risk, dict) else {})
    active = [k for k in ("stop_loss", "take_profit", "trailing_stop", "atr_stop", "max_position",
                          "vol_target", "max_drawdown") if k in rules]
    risk_text = ", ".join(f"{k}={rules[k]}" for k in active) or "none (no risk rules)"
    broker = config.get("broker") or {}
    cache = "reused from the cache" if info.get("forecasts_from_cache") else "trained in this run"
    rows = [
        ("Ticker", ticker), ("Strategy", f"{strategy}: {settings_text(config.get('strategy'))}"),
        ("Risk rules", risk_text),
        ("Data source", data.get("source", "?")),
        ("Data range", f"{data.get('first_date', '?')} to {data.get('last_date', '?')} "
                       f"({data.get('rows', '?')} bars)"),
        ("Data fingerprint", info.get("data_fingerprint") or data.get("fingerprint", "?")),
        ("Test period", f"{period.get('start', '?')} to {period.get('end', '?')} "
                        f"({period.get('days', '?')} days, out of sample)"),
        ("Forecaster", settings_text(config.get("forecaster"))),
        ("Walk-forward", settings_text(config.get("walkforward"))),
        ("Costs", f"{_commission_text(broker)}, slippage {broker.get('slippage', '?')}, "
                  f"cash {broker.get('cash', '?')}"),
        ("Seed", config.get("seed", "?")),
        ("Forecasts", f"{cache} (key {info.get('forecast_cache_key', '?')})"),
        ("Code", f"git {info.get('git_commit') or 'unknown'}, mode {command.get('mode', '?')}"),
    ]
    return table(("Setting", "Value"), ((esc(k), esc(v)) for k, v in rows), "info")


def _commission_text(broker: dict) -> str:
    """The commission rule that actually applies (a fraction of value, or a rate per share)."""
    if broker.get("commission_type") == "per_share":
        text = f"commission {broker.get('per_share', '?')} per share"
    else:
        text = f"commission {broker.get('commission', '?')} of traded value"
    minimum = broker.get("min_commission")
    return f"{text} (minimum {minimum} per order)" if minimum else text


FIGURES = (("Total return", "total_return", pct), ("CAGR", "cagr", pct), ("Sharpe", "sharpe", num),
           ("Sortino", "sortino", num), ("Max drawdown", "max_drawdown", pct),
           ("Volatility (annual)", "volatility", share), ("Time in market", "time_in_market", share),
           ("Trades", "trades", lambda v: num(v, 0)), ("Win rate", "win_rate", share),
           ("Profit factor", "profit_factor", num), ("Average trade", "avg_trade_pct", pct),
           ("Turnover (per year)", "turnover", num))


def _performance(s: dict, b: dict) -> str:
    rows = [(label, show(s.get(key)), show(b.get(key))) for label, key, show in FIGURES]
    return table(("Figure", "Strategy", "Buy &amp; hold"), rows)


def _skill(f: dict, config: dict) -> str:
    if not f:
        return "<p>No forecast scores.</p>"
    p, r = f.get("persistence") or {}, f.get("ridge") or {}
    model = settings_text(config.get("forecaster")).split("(")[0] or "model"
    errors = (("MSE", "mse", lambda v: num(v, 6)), ("MAE", "mae", lambda v: num(v, 5)),
              ("RMSE", "rmse", lambda v: num(v, 5)), ("MAPE of the next close, %", "mape", num),
              ("Directional accuracy", "directional_accuracy", share))
    rows = [(label, show(f.get(key)), show(p.get(key)), show(r.get(key)))
            for label, key, show in errors]
    dm = lambda block: f"{num(block.get('dm_statistic'))} ({num(block.get('dm_pvalue'), 3)})"  # noqa: E731
    rows.append(("DM statistic vs persistence (p)", dm(f), "", dm(r)))
    low, high = (f.get("directional_accuracy_ci95") or [None, None])[:2]
    notes = (f"<p>Theil's U (RMSE / persistence RMSE): <b>{num(f.get('theil_u'), 3)}</b> "
             f"(below 1 beats the random walk). Directional accuracy 95% interval "
             f"{share(low)} to {share(high)}; persistence's figure is the share of up days. "
             f"{num(f.get('samples'), 0)} scored forecasts.</p>")
    return table(("Score", esc(model), "Persistence", "Ridge"), rows) + notes


def _plots(folder: Path) -> str:
    return embed_plots(folder, PLOTS) or "<p>No plots (report.plots=false).</p>"


def embed_plots(folder: Path, plots: Iterable[tuple[str, str]]) -> str:
    """The PNGs of `plots` (name, caption) that exist in `folder`, as data-URI figures."""
    shown = []
    for name, caption in plots:
        path = folder / name
        if path.exists():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            shown.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
                         f"<figcaption>{esc(caption)}</figcaption></figure>")
    return "".join(shown)


def _trades(trades: pd.DataFrame) -> str:
    if trades is None or trades.empty:
        return "<p>No trades.</p>"
    shown = trades.head(MAX_TRADES)
    rows = [[esc(_cell(v)) for v in row] for row in shown.itertuples(index=False)]
    more = (f"<p>{len(trades) - MAX_TRADES} more in <a href=\"trades.csv\">trades.csv</a>.</p>"
            if len(trades) > MAX_TRADES else "")
    return table([esc(c) for c in shown.columns], rows) + more


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return num(value, 4) if abs(value) < 100 else num(value, 2)
    if hasattr(value, "date") and callable(value.date):
        return str(value.date())
    return str(value)
