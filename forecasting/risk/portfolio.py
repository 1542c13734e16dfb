"""A portfolio's next-day VaR / ES from its held weights, and each name's share of the risk (Euler).

For a volatility method m (the per-ticker walk-forward's lstm, ewma, garch), the portfolio's
covariance at the close of t is D R D: D the diagonal of m's volatility forecasts made at t, R the
sample correlation of the last `corr_window` daily log returns up to and including t. The portfolio
return is taken as normal with mean 0 and sigma_p = sqrt(w' D R D w): whatever tails a method gave
each name (the LSTM's filtered residuals, GARCH's Student t) are lost in this aggregation, so the
portfolio VaR of every volatility method is a normal VaR; only `historical` keeps fat tails.

`historical` needs no per-ticker forecast: today's weights are applied to each of the last
`corr_window` days of ticker returns (historical simulation of the current book). Both treat the
portfolio's log return as sum_i w_i r_i, the usual first-order aggregation of log returns.

The Euler contributions w_i (Sigma w)_i / sigma_p add up to sigma_p, so a name's share says how
much of the book's volatility it carries; a hedge has a negative share. For `historical`, Sigma is
the replayed returns' sample covariance, so its contributions add up to its volatility column
(the standard deviation of the simulated book returns).

Nothing after the close of t enters a row for t: weights, volatilities and returns are read at t.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.risk.distributions import column, empirical_var_es, normal_var_es

log = logging.getLogger(__name__)

HISTORICAL = "historical"
MIN_OBS = 60  # fewer common daily returns than this: no correlation estimate (0) / no HS history


def correlation(window: np.ndarray, min_obs: int = MIN_OBS) -> tuple[np.ndarray, bool]:
    """(pairwise sample correlation of the window's columns, whether it had to be repaired).

    Each pair uses the days both names have a return; a pair with fewer than `min_obs` such days
    (a recent listing) gets correlation 0, so the name still adds its own variance. Pairwise
    estimates (and those zeros) can make the matrix indefinite, and then w' Sigma w could be
    negative: its negative eigenvalues are clipped to 0 and the diagonal rescaled to 1.
    """
    n_names = window.shape[1]
    known = np.isfinite(window)
    if known.all() and len(window) >= min_obs:  # the usual case: one sample, PSD by construction
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.atleast_2d(np.corrcoef(window, rowvar=False))
        return _unit_diagonal(corr), False
    # Pairwise sums over common days (centred first: correlation ignores shifts, rounding does not).
    x = np.where(known, window - np.nanmean(np.where(known, window, np.nan), axis=0), 0.0)
    mask = known.astype(np.float64)
    n = mask.T @ mask
    sx, sxx = x.T @ mask, (x**2).T @ mask  # [i, j]: sums of x_i (x_i^2) over days with i and j
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * (x.T @ x) - sx * sx.T
        corr = cov / np.sqrt((n * sxx - sx**2) * (n * sxx - sx**2).T)
    corr[n < min_obs] = 0.0
    corr = _unit_diagonal(np.clip(corr, -1.0, 1.0))
    if n_names < 2:
        return corr, False
    values, vectors = np.linalg.eigh(corr)
    if values[0] >= -1e-12:
        return corr, False
    fixed = (vectors * np.clip(values, 0.0, None)) @ vectors.T
    scale = np.sqrt(np.clip(np.diag(fixed), 1e-300, None))
    return _unit_diagonal(fixed / np.outer(scale, scale)), True


def _unit_diagonal(corr: np.ndarray) -> np.ndarray:
    """Undefined entries (too few days, a name whose return never moved) as 0, the diagonal 1."""
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def euler(weights: np.ndarray, cov: np.ndarray) -> tuple[float, np.ndarray]:
    """(sigma_p, contributions w_i (Sigma w)_i / sigma_p); a book without risk contributes 0 each."""
    marginal = cov @ weights
    sigma = float(np.sqrt(max(float(weights @ marginal), 0.0)))
    if sigma == 0.0:
        return 0.0, np.zeros_like(weights)
    return sigma, weights * marginal / sigma


def scenarios(window: np.ndarray, min_obs: int = MIN_OBS) -> tuple[np.ndarray, np.ndarray]:
    """(the held names' returns to replay, the positions of the names kept).

    A name with fewer than `min_obs` returns in the window is dropped (its weight does not enter
    the simulation). The replay starts at the latest first return of the names kept, so no name
    enters before it was listed; a missing return after that is a data gap (the next return
    spans it) and counts as 0.
    """
    known = np.isfinite(window)
    kept = np.flatnonzero(known.sum(axis=0) >= min_obs)
    if len(kept) == 0:
        return np.zeros((0, 0)), kept
    start = int(known[:, kept].argmax(axis=0).max())
    return np.where(known, window, 0.0)[start:, kept], kept


def covered_dates(weights: pd.DataFrame, vols: Mapping[str, pd.DataFrame]) -> pd.Index:
    """The dates on which every held name has a finite volatility forecast from every method."""
    held = weights.fillna(0.0).to_numpy() != 0.0
    ok = np.ones(len(weights), dtype=bool)
    for frame in vols.values():
        known = frame.reindex(index=weights.index, columns=weights.columns).to_numpy(np.float64)
        ok &= ~(held & ~np.isfinite(known)).any(axis=1)
    return weights.index[ok]


def portfolio_risk(weights: pd.DataFrame, vols: Mapping[str, pd.DataFrame], returns: pd.DataFrame,
                   realised: pd.Series, levels: Sequence[float], corr_window: int = 250,
                   min_obs: int = MIN_OBS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(risk rows, Euler contributions) of the book held over the next day, per method and date.

    Risk rows: indexed by `date`, columns `method, volatility, var_*, es_*, realised` (the
    per-ticker frame's, without `fold`), method by method, for backtest_table and var.csv.
    Contributions: `date, method, ticker, weight, contribution`, one row per held name.
    `vols[method]`: date x ticker volatility forecasts made at each close; a `historical` entry
    is ignored (the portfolio's historical method simulates the book itself). A date on which a
    held name has no forecast from some method gets no row from any method (all methods are
    judged on the same days); a book with no position has VaR and ES 0 (and passes any backtest
    trivially: leave days before the book first trades out of its weights).
    """
    weights = weights.sort_index().fillna(0.0)
    returns = returns.sort_index().reindex(columns=weights.columns)
    methods = [m for m in vols if m != HISTORICAL]
    dates = covered_dates(weights, {m: vols[m] for m in methods})
    if len(dates) < len(weights):
        log.warning("portfolio risk: %d of %d dates left out: a held name had no volatility "
                    "forecast there", len(weights) - len(dates), len(weights))
    w_all = weights.reindex(dates).to_numpy(np.float64)
    r_all = returns.to_numpy(np.float64)
    ends = returns.index.searchsorted(dates, side="right")  # returns up to and including t
    panels = {m: vols[m].reindex(index=dates, columns=weights.columns).to_numpy(np.float64)
              for m in methods}
    sigma: dict[str, list[float]] = {m: [] for m in [*methods, HISTORICAL]}
    tails: dict[float, tuple[list[float], list[float]]] = {level: ([], []) for level in levels}
    parts: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {m: [] for m in sigma}
    repaired = dropped = 0
    for k, end in enumerate(ends):
        held = np.flatnonzero(w_all[k] != 0.0)
        w = w_all[k, held]
        window = r_all[max(0, end - corr_window):end, held]
        corr, fixed = correlation(window, min_obs) if len(held) else (np.zeros((0, 0)), False)
        repaired += fixed
        for m in methods:
            d = panels[m][k, held]
            s, share = euler(w, corr * np.outer(d, d))
            sigma[m].append(s)
            parts[m].append((k, held, share))
        replay, kept = scenarios(window, min_obs)
        dropped += len(held) - len(kept)
        book = replay @ w[kept]
        cov = np.atleast_2d(np.cov(replay, rowvar=False)) if len(book) > 1 else np.zeros((0, 0))
        s, share = euler(w[kept], cov) if len(book) > 1 else (0.0, np.zeros(len(kept)))
        sigma[HISTORICAL].append(s)
        parts[HISTORICAL].append((k, held[kept], share))
        for level in levels:
            var, es = empirical_var_es(book, level) if len(book) else (0.0, 0.0)
            tails[level][0].append(var)
            tails[level][1].append(es)
    if repaired or dropped:
        log.warning("portfolio risk: %d correlation matrices made positive semi-definite; %d held "
                    "name-days left out of historical simulation (under %d returns of history)",
                    repaired, dropped, min_obs)
    frame = _risk_rows(dates, sigma, tails, levels, realised)
    return frame, _contributions(dates, weights.columns, w_all, parts)


def _contributions(dates: pd.Index, tickers: pd.Index, w_all: np.ndarray,
                   parts: dict[str, list[tuple[int, np.ndarray, np.ndarray]]]) -> pd.DataFrame:
    """The long table, method by method, date by date (the weights' column order within a date)."""
    blocks = []
    for m, found in parts.items():
        rows = np.concatenate([np.full(len(held), k) for k, held, _ in found] or [np.zeros(0, int)])
        cols = np.concatenate([held for _, held, _ in found] or [np.zeros(0, int)]).astype(int)
        share = np.concatenate([c for _, _, c in found] or [np.zeros(0)])
        blocks.append(pd.DataFrame({"date": dates[rows.astype(int)], "method": m,
                                    "ticker": tickers[cols].astype(str),
                                    "weight": w_all[rows.astype(int), cols],
                                    "contribution": share.astype(np.float64)}))
    return pd.concat(blocks, ignore_index=True)


def _risk_rows(dates: pd.Index, sigma: dict[str, list[float]],
               tails: dict[float, tuple[list[float], list[float]]], levels: Sequence[float],
               realised: pd.Series) -> pd.DataFrame:
    """The per-method blocks (normal VaR/ES from sigma_p; historical's empirical ones)."""
    after = realised.reindex(dates).to_numpy(dtype=np.float64)
    parts = []
    for m, values in sigma.items():
        s = np.asarray(values, dtype=np.float64)
        part = pd.DataFrame({"method": m, "volatility": s}, index=pd.DatetimeIndex(dates, name="date"))
        for level in levels:
            if m == HISTORICAL:
                var, es = np.asarray(tails[level][0]), np.asarray(tails[level][1])
            else:
                var, es = normal_var_es(np.zeros_like(s), s, level)
            part[column("var", level)] = var + 0.0  # + 0.0: a flat book's -0.0 is written as 0
            part[column("es", level)] = es + 0.0
        part["realised"] = after
        parts.append(part)
    return pd.concat(parts)


def contribution_shares(contributions: pd.DataFrame, method: str) -> pd.DataFrame:
    """Date x ticker: each name's share of sigma_p under `method` (rows add up to 1; 0 when flat)."""
    part = contributions[contributions["method"] == method]
    table = part.pivot_table(index="date", columns="ticker", values="contribution",
                             aggfunc="sum", fill_value=0.0, sort=True)
    total = table.sum(axis=1)
    shares = table.div(total.where(total != 0.0), axis=0).fillna(0.0)
    shares.columns.name = None
    return shares
