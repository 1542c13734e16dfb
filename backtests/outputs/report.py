"""report.html: the page a user opens first, one self-contained file per run.

It answers "what ran, did it beat buy-and-hold, did the forecast beat its baselines" from the
numbers already in metrics.json and run_info.json, with the run's plots embedded as data URIs so
the file can be mailed or archived alone. No CDN, no script. Every string that came from the user
(ticker, paths, settings) is HTML-escaped. The page helpers (backtests/outputs/html.py) are shared
with the sweep summary.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.atomic import write_text
from backtests.outputs.html import (
    HIDDEN_KEYS,
    embed_plots,
    esc,
    finite,
    forecaster_label,
    num,
    page,
    pct,
    settings_text,
    share,
    table,
)
from backtests.outputs.sections.data import data_section
from backtests.outputs.sections.distribution import distribution_section
from backtests.outputs.sections.explain import explain_section
from backtests.outputs.sections.live import live_section
from backtests.outputs.sections.risk import risk_section
from backtests.outputs.sections.trials import trials_section

log = logging.getLogger(__name__)

MAX_TRADES = 300  # rows shown; trades.csv holds them all
PLOTS = (("forecast.png", "The forecast of the next close against the actual close (the full test "
          "period, and the last sessions beside the persistence forecast), forecast against "
          "realised return, realised return by forecast quintile, and strategy and buy-and-hold "
          "equity"),
         ("forecast_skill.png", "Rolling directional accuracy against the share of up days; MSE "
          "per walk-forward fold against persistence"))
def write_report(path: Path, metrics: dict, run_info: dict, trades: pd.DataFrame) -> None:
    """Write report.html beside the run's plots and tearsheet (which it embeds or links)."""
    write_text(path, render_report(path.parent, metrics, run_info, trades))
    log.info("report: %s", path)


def render_report(folder: Path, metrics: dict, run_info: dict, trades: pd.DataFrame) -> str:
    """The report page for the run folder `folder` (reads only its PNGs, importance tables and the
    tearsheet's presence)."""

    config, command = run_info.get("config") or {}, run_info.get("command") or {}
    data, period = metrics.get("data") or {}, metrics.get("test_period") or {}
    strategy_name = command.get("strategy") or settings_text(config.get("strategy")).split("(")[0]
    ticker = command.get("ticker") or data.get("ticker", "?")
    title = f"{ticker} · {strategy_name} · {period.get('start', '?')} to {period.get('end', '?')}"
    s, b = metrics.get("strategy") or {}, metrics.get("benchmark") or {}
    has_tearsheet = (folder / "tearsheet.html").exists()
    links = ['<a href="tearsheet.html">QuantStats tearsheet</a>'] if has_tearsheet else []
    # Written just before these files: they exist once the run is complete (metrics.json last).
    files = ["metrics.json", "trades.csv", "returns.csv", "predictions.csv", "run_info.json"]
    files += ["var.csv", "var_backtests.csv"] if metrics.get("risk") else []
    files += ["distribution.csv"] if metrics.get("distribution") else []
    links += [f'<a href="{name}">{name}</a>' for name in files]
    links += ['<a href="trials.json">trials.json</a>'] if metrics.get("trials") else []
    links += ['<a href="live.json">live.json</a>'] if metrics.get("live") else []
    forecast = metrics.get("forecast") or {}
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">{" · ".join(links)}</p>',
        f'<div class="verdict">{_headline(s, b)}<br>{esc(forecast.get("verdict", ""))}</div>',
        "<h2>What ran</h2>",
        _what_ran(config, command, run_info, data, period, ticker, strategy_name),
        "<h2>Data</h2>", data_section(data),
        "<h2>Strategy against buy and hold</h2>", _performance(s, b),
        *live_section(metrics.get("live")),
        "<h2>Trials on this data</h2>",
        trials_section(metrics.get("trials"),
                       int((config.get("report") or {}).get("periods_per_year") or 252)),
        "<h2>Forecast skill against its baselines</h2>", _skill(forecast, config),
        "<h2>Plots</h2>", _plots(folder),
        explain_section(folder, config),
        *distribution_section(metrics.get("distribution"), folder),
        *risk_section(metrics.get("risk"), folder),
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
    if "forecast_cache_key" in info and info["forecast_cache_key"] is None:
        cache = "none trained: the strategy reads no forecast"
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
        ("Forecasts", f"{cache} (key {info.get('forecast_cache_key') or '-'})"),
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
           ("Profit factor (per trade)", "profit_factor", num), ("Average trade", "avg_trade_pct", pct),
           ("Turnover (per year)", "turnover", num))


def _performance(s: dict, b: dict) -> str:
    rows = [(label, show(s.get(key)), show(b.get(key))) for label, key, show in FIGURES]
    return table(("Figure", "Strategy", "Buy &amp; hold"), rows)


def _skill(f: dict, config: dict) -> str:
    if not f:
        return "<p>No forecast scores.</p>"
    if f.get("computed") is False:  # a prices-only strategy: no model was trained
        return f"<p>{esc(f.get('verdict', 'Forecast not computed.'))}</p>"
    p, r = f.get("persistence") or {}, f.get("ridge") or {}
    model = forecaster_label(config.get("forecaster"))
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


def _trades(trades: pd.DataFrame) -> str:
    if trades is None or trades.empty:
        return "<p>No trades.</p>"
    shown = trades.head(MAX_TRADES)
    rows = [[esc(pct(v, 2) if column == "pnl_pct" else _cell(v))
             for column, v in zip(shown.columns, row)] for row in shown.itertuples(index=False)]
    more = (f"<p>{len(trades) - MAX_TRADES} more in <a href=\"trades.csv\">trades.csv</a>.</p>"
            if len(trades) > MAX_TRADES else "")
    header = [esc("pnl %" if c == "pnl_pct" else c) for c in shown.columns]
    return table(header, rows) + more


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return num(value, 4) if abs(value) < 100 else num(value, 2)
    if hasattr(value, "date") and callable(value.date):
        return str(value.date())
    return str(value)
