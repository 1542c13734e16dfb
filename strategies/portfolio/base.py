"""The base of every portfolio strategy: one feed per ticker, target weights decided at a rebalance
close, turned into orders at the next open, and the risk rules every position gets.

Timing as for one ticker (cheat_on_open): `next()` at the close of t decides with data up to that
close; `next_open()` at the open of t+1 sends market orders that fill at that open. Feeds may start
and end on different dates, so `prenext` runs the same logic. A ticker is eligible on a close only if
its feed has a bar on that date (and, for a strategy that uses the forecast, a finite signal).
A ticker that cannot trade at an open (its feed has no bar there) keeps its order for the next open
it has a bar; a feed that has ended never trades again, so its position is held, marked at its last
close, and booked as `end_of_data` on that date.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections import deque
from typing import Any

import backtrader as bt
import pandas as pd

from strategies.feeds import SignalData
from strategies.portfolio.book import TradeBook
from strategies.portfolio.guards import exit_reason, guard_orders, hit_at_open
from strategies.portfolio.rules import apply_rules, trailing_returns
from strategies.risk import DrawdownBreaker, RiskRules, given_rules
from strategies.sizers import _largest_affordable

log = logging.getLogger(__name__)

_DEAD = (bt.Order.Canceled, bt.Order.Margin, bt.Order.Rejected, bt.Order.Expired)


def target_shares(weight: float, equity: float, fraction: float, price: float, slip: float,
                  held: int) -> int:
    """Shares a `weight` of `equity` (times the sizer's fraction) buys at `price` with slippage
    against the order's side: what a rebalance leg trades to (and what mode=predict says it will)."""
    desired = weight * equity * fraction
    fill = price * (1 + slip) if desired > held * price else price * (1 - slip)
    return math.trunc(desired / fill)


class PortfolioStrategy(bt.Strategy):
    """Turns `weights()` of the subclass into target positions every `rebalance` sessions.

    At a rebalance close: raw weights -> regime scale -> max_weight -> vol_target -> max_gross /
    max_net (strategies/portfolio/rules.py) -> `targets`. At the next open each ticker goes to
    trunc(weight * equity at the open * invest_fraction / fill price with slippage) shares, sells
    first so their cash is there for the buys, and no buy is larger than the cash left can pay for
    (commission and slippage included). Between rebalances positions drift; only the stops, the
    take-profit and the drawdown breaker trade. A stopped-out name stays out until the next rebalance;
    a guard the open gaps through fills at that open and wins over the rebalance's order. The breaker
    flattens at the next open and, once its cool-down is over, the first close rebalances and the
    count of sessions restarts from it.
    Params:
      - start: first close that may decide (datetime.date); earlier bars only warm up.
      - risk: strategies.risk.RiskRules (None: none); the portfolio rules and per-position stops.
      - rebalance: sessions between rebalances, counted from the first tradable close.
      - regime: None or a Series date -> exposure scale in [0, 1] known at that close.
      - members: None (every ticker, always) or a date x ticker bool DataFrame of point-in-time
        universe membership: only a member is eligible at a close, and a held name that is not a
        member at a close is sold at the next open (`left_universe`), rebalance day or not.
    """

    params: Any = (
        ("start", None),     # datetime.date: no decisions before this close
        ("risk", None),      # strategies.risk.RiskRules; None = no rules
        ("rebalance", 5),    # sessions between rebalances
        ("regime", None),    # pandas Series date -> gross exposure scale; None = always 1
        ("members", None),   # date x ticker bool DataFrame: universe membership; None = always
    )
    bounds = {"rebalance": "int >= 1"}
    uses_forecast = True  # eligibility needs a finite `signal` (False: a bar is enough)
    feed: type[bt.feeds.PandasData] = SignalData  # the feed class whose lines score() reads

    def __init__(self) -> None:
        self.rules: RiskRules = given_rules(self.p.risk, type(self).__name__)
        self.feeds: dict[str, Any] = {d._name: d for d in self.datas}
        self.book = TradeBook()
        self.equity_at: dict[dt.date, float] = {}
        self.holdings_at: dict[dt.date, dict[str, float]] = {}
        self.weights_at: dict[dt.date, dict[str, float]] = {}  # right after a rebalance day's fills
        self.traded: dict[dt.date, float] = {}  # value of every fill by date (turnover)
        self.targets: dict[dt.date, dict[str, float]] = {}     # decided at each rebalance close
        self._closes: deque[tuple[dt.date, dict[str, float]]] = deque(maxlen=self.rules.vol_lookback + 1)
        self._sessions = -1  # tradable closes since the first (or since the breaker let go)
        self._last_close: dt.date | None = None
        self._pending: dict[str, float] = {}  # target weights not yet traded, by ticker
        self._reason = "rebalance"
        self._guards: dict[str, list[bt.Order]] = {}
        self._sent: dict[int, list[bt.Order]] = {}  # guards by the ref of the order they ride on
        self._after: dict[str, Any] | None = None   # positions and cash right after this open's fills
        self._decided = False  # a rebalance (or the breaker) decided at the last close
        self._atr_at: dict[str, float] = {}  # ATR at the decision close, for atr_stop
        self._scores: dict[str, float] = {}  # the last rebalance's scores, raw weights, held weights
        self._raw: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._rebalanced: dt.date | None = None
        self._atr = ({n: bt.ind.ATR(d, period=self.rules.atr_period) for n, d in self.feeds.items()}
                     if self.rules.atr_stop else {})
        self._breaker = (DrawdownBreaker(self.rules.max_drawdown, self.rules.cooldown_days)
                         if self.rules.max_drawdown is not None else None)
        members = self.p.members
        self._members: dict[dt.date, frozenset[str]] | None = None if members is None else {
            day.date(): frozenset(members.columns[row]) for day, row in
            zip(pd.DatetimeIndex(members.index), members.to_numpy(dtype=bool), strict=True)}
        regime = self.p.regime
        self._regime = None if regime is None else pd.Series(
            regime.to_numpy(dtype="float64"), index=pd.DatetimeIndex(regime.index).normalize())

    # -- what subclasses decide ---------------------------------------------------------------
    def weights(self, scores: dict[str, float], held: dict[str, float]) -> dict[str, float]:
        """Raw target weights (signed fractions of equity) from today's scores of the eligible
        tickers; `held` is the current weight of every open position."""
        raise NotImplementedError

    def score(self, data: Any) -> float:
        """What a name is ranked by at this close (a name without a finite score is not eligible
        when the strategy uses the forecast): the point forecast, unless a subclass says otherwise."""
        return float(data.signal[0])

    def rebalance_due(self, today: dt.date) -> bool:
        return self._sessions % int(self.p.rebalance) == 0

    def vols(self, names: list[str]) -> dict[str, float]:
        """Daily volatility at this close: the feeds' forecasts (vol_source: forecast) or the
        standard deviation of the last `vol_lookback` log returns (names without them left out)."""
        if self.rules.vol_source == "forecast":
            return {n: float(self.feeds[n].volatility[0]) for n in names}
        returns = trailing_returns(self._close_frame(), names, self.rules.vol_lookback)
        return {str(n): float(returns[n].std(ddof=1)) for n in returns.columns}

    # -- the clock ----------------------------------------------------------------------------
    def _now(self) -> float:
        return max(d.datetime[0] for d in self.datas if len(d))

    def _live(self) -> dict[str, Any]:
        """Feeds with a bar at the current session (at an open: at this open)."""
        now = self._now()
        return {n: d for n, d in self.feeds.items() if len(d) and d.datetime[0] == now}

    def _close_frame(self) -> pd.DataFrame:
        return pd.DataFrame([row for _, row in self._closes], index=[day for day, _ in self._closes])

    def prenext(self) -> None:
        self.next()

    def prenext_open(self) -> None:
        self.next_open()

    # -- decisions at the close ---------------------------------------------------------------
    def next(self) -> None:
        today, live, value = bt.num2date(self._now()).date(), self._live(), self.broker.getvalue()
        self._closes.append((today, {n: float(d.close[0]) for n, d in live.items()}))
        self._record(today, value)
        if self.p.start is not None and today < self.p.start:
            return
        self._drop_leavers(today)
        if self._breaker is not None:
            if self._breaker.update(len(self), value):
                holding = [n for n in self.feeds if self.getposition(self.feeds[n]).size]
                self._pending, self._reason = dict.fromkeys(holding, 0.0), "drawdown_breaker"
                self._sessions, self._decided = -1, True
                return
            if self._breaker.blocked(len(self)):
                return
        self._sessions += 1
        due, self._last_close = self.rebalance_due(today), today
        if not due:
            return
        scores = {n: self.score(d) for n, d in live.items() if self.is_member(n, today)}
        scores = {n: v for n, v in scores.items() if not self.uses_forecast or math.isfinite(v)}
        held = {n: self.getposition(d).size * d.close[0] / value for n, d in self.feeds.items()
                if self.getposition(d).size}
        raw = self.weights(scores, held)
        self._scores, self._raw, self._held, self._rebalanced = scores, dict(raw), held, today
        forecasts = {n: float(d.volatility[0]) for n, d in live.items()}
        targets = apply_rules(raw, self.rules, self._scale(today),
                              self._close_frame() if self.rules.vol_target else None, forecasts)
        self.targets[today] = targets
        self._pending = {n: targets.get(n, 0.0) for n in self.feeds if n in targets or n in held}
        self._reason, self._decided = "rebalance", True
        self._atr_at = {n: float(atr[0]) for n, atr in self._atr.items() if n in live and len(atr)}

    def is_member(self, name: str, today: dt.date) -> bool:
        """Whether `name` is in the universe at this close (always, without membership)."""
        if self._members is None:
            return True
        return name in self._members.get(today, frozenset())

    def _drop_leavers(self, today: dt.date) -> None:
        """A held name that is no longer a member is sold at the next open (a rebalance at this
        close sells it too: it is not eligible)."""
        if self._members is None:
            return
        gone = [n for n, d in self.feeds.items()
                if self.getposition(d).size and not self.is_member(n, today)]
        for name in gone:
            self._pending[name] = 0.0
        if gone and set(self._pending) <= set(gone):
            self._reason = "left_universe"

    def _scale(self, today: dt.date) -> float:
        if self._regime is None:
            return 1.0
        known = self._regime.loc[:pd.Timestamp(today)].dropna()
        return 1.0 if known.empty else min(1.0, max(0.0, float(known.iloc[-1])))

    def _record(self, today: dt.date, value: float) -> None:
        self.equity_at[today] = value
        self.holdings_at[today] = {n: self.getposition(d).size * d.close[0] / value
                                   for n, d in self.feeds.items() if len(d) and self.getposition(d).size}
        if self._after is not None:
            sizes, opens, cash = self._after["sizes"], self._after["opens"], self._after["cash"]
            equity = cash + sum(sizes[n] * opens[n] for n in sizes)
            self.weights_at[self._after["date"]] = {n: sizes[n] * opens[n] / equity
                                                    for n in sizes if sizes[n]}
            self._after = None

    # -- orders at the next open --------------------------------------------------------------
    def next_open(self) -> None:
        decided, self._decided = self._decided, False
        if not self._pending:
            return
        live = self._live()
        marks = {n: (d.open[0] if n in live else d.close[0]) for n, d in self.feeds.items() if len(d)}
        sizes = {n: self.getposition(self.feeds[n]).size for n in marks}
        equity = self.broker.getcash() + sum(sizes[n] * marks[n] for n in marks)
        sizer = self.getsizer()
        fraction = float(getattr(sizer.p, "fraction", 1.0)) if sizer is not None else 1.0
        slip = self.broker.p.slip_perc or 0.0
        legs: list[tuple[str, int, int]] = []  # (ticker, order size, position before it)
        for name in [n for n in self._pending if n in live]:
            weight, held, price = self._pending.pop(name), int(sizes[name]), marks[name]
            if held and hit_at_open(self._guards.get(name, []), price):
                continue  # its stop or take-profit fills at this open: out until the next rebalance
            target = target_shares(weight, equity, fraction, price, slip, held)
            if target == held:
                continue
            if held and target * held <= 0:  # to flat first: a reversal is two round trips
                legs.append((name, -held, held))
                held = 0
            if target:
                legs.append((name, target - held, held))
        if decided:
            self._after = {"date": bt.num2date(self._now()).date(), "sizes": dict(sizes),
                           "opens": marks, "cash": self.broker.getcash()}
        cash = self.broker.getcash()
        for name, size, before in [leg for leg in legs if leg[1] < 0]:
            price = marks[name] * (1 - slip)
            cash += -size * price - self.broker.getcommissioninfo(self.feeds[name]).getcommission(size, price)
            self._send(name, size, before)
        for name, size, before in [leg for leg in legs if leg[1] > 0]:
            price, info = marks[name] * (1 + slip), self.broker.getcommissioninfo(self.feeds[name])
            size = min(size, _largest_affordable(cash, price, info))  # never rejected for cash
            if size > 0:
                cash -= size * price + info.getcommission(size, price)
                self._send(name, size, before)

    def _send(self, name: str, size: int, before: int) -> None:
        """A market order for `size` shares of `name`; the position's guards are replaced by ones
        riding on it, sized to the position after it."""
        data = self.feeds[name]
        for order in self._guards.pop(name, []):
            if order.alive():
                self.cancel(order)
        after = before + size
        guarded = after != 0 and (self.rules.has_stop or self.rules.take_profit is not None)
        order = (self.buy if size > 0 else self.sell)(data=data, size=abs(size), transmit=not guarded)
        order.addinfo(reason=self._reason, leg=True)
        if guarded:
            entry = functools.partial(self._entry_after, name, size, before == 0)
            self._sent[order.ref] = guard_orders(self, self.rules, data, order, 1 if after > 0 else -1,
                                                 abs(after), self._atr_at.get(name), entry)

    def _entry_after(self, name: str, size: int, fresh: bool, fill: float) -> float:
        """The trade's size-weighted average entry once an order of `size` fills at `fill`."""
        trade = self.book.open.get(name)
        if fresh or trade is None:
            return fill
        if size * trade.sign > 0:
            return (trade.bought_value + abs(size) * fill) / (trade.bought + abs(size))
        return trade.bought_value / trade.bought

    def decision(self) -> dict[str, Any]:
        """What the last close decided for the next open (mode=predict reads this after the last
        bar): the weights held, the targets and the shares each order would move at the last close's
        prices (the next open's are not known yet), the last rebalance's scores and raw weights, the
        protective levels working, and whether the breaker keeps the book out."""
        value, now = self.broker.getvalue(), bt.num2date(self._now()).date()
        sizer = self.getsizer()
        fraction = float(getattr(sizer.p, "fraction", 1.0)) if sizer is not None else 1.0
        slip = self.broker.p.slip_perc or 0.0
        sizes = {n: int(self.getposition(d).size) for n, d in self.feeds.items() if len(d)}
        closes = {n: float(d.close[0]) for n, d in self.feeds.items() if len(d)}
        orders = {}
        for name, weight in self._pending.items():
            if name in closes:
                after = target_shares(weight, value, fraction, closes[name], slip, sizes[name])
                orders[name] = {"weight": weight, "shares_now": sizes[name], "shares_after": after}
        stops: dict[str, dict[str, float]] = {}
        for name, guards in self._guards.items():
            for order in (o for o in guards if o.alive()):
                kind = "take_profit" if order.exectype == bt.Order.Limit else exit_reason(order)
                stops.setdefault(name, {})[kind] = float(order.created.price)
        return {
            "date": now, "decided": self._decided, "reason": self._reason if self._decided else None,
            "equity": value, "held": {n: s * closes[n] / value for n, s in sizes.items() if s},
            "shares": {n: s for n, s in sizes.items() if s}, "closes": closes, "orders": orders,
            "rebalanced": self._rebalanced, "scores": dict(self._scores), "raw": dict(self._raw),
            "held_at_rebalance": dict(self._held),
            "targets": dict(self.targets.get(self._rebalanced, {})) if self._rebalanced else {},
            "sessions_to_rebalance": (int(self.p.rebalance) - self._sessions % int(self.p.rebalance)
                                      if self._sessions >= 0 else None),
            "stops": stops,
            "breaker_blocked": bool(self._breaker is not None and self._breaker.blocked(len(self))),
        }

    # -- bookkeeping --------------------------------------------------------------------------
    def notify_order(self, order: bt.Order) -> None:
        if order.status in _DEAD:
            for child in self._sent.pop(order.ref, []):  # an order that never filled
                self.cancel(child)
            if order.status != order.Canceled:
                log.warning("order %s %s on %s", order.ref, order.getstatusname(), order.data._name)
            return
        if order.status != order.Completed:
            return
        name, done = order.data._name, order.executed
        if order.ref in self._sent:
            self._guards[name] = self._sent.pop(order.ref)
        when = bt.num2date(done.dt).date()
        self.book.fill(name, when, done.size, done.price, done.comm, exit_reason(order))
        self.traded[when] = self.traded.get(when, 0.0) + abs(done.size * done.price)
        if self._after is not None:  # the rebalance's legs, and a stop the open gapped through
            self._after["sizes"][name] += done.size
            self._after["cash"] -= done.size * done.price + done.comm
        if self.book.held(name) == 0:
            for guard in self._guards.pop(name, []):
                if guard.alive():
                    self.cancel(guard)

    def stop(self) -> None:
        """A trade still open at the end is marked at its ticker's last close (no exit costs)."""
        for name in list(self.book.open):
            data = self.feeds[name]
            self.book.mark(name, data.datetime.date(0), float(data.close[0]))
