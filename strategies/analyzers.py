"""Analyzers the engine adds to every run, beside backtrader's own TimeReturn."""
from __future__ import annotations

import datetime as dt

import backtrader as bt


class EquityAtClose(bt.Analyzer):
    """Broker value at each close, keyed by date."""

    def start(self) -> None:
        self.values: dict[dt.date, float] = {}

    def next(self) -> None:
        self.values[self.data.datetime.date(0)] = self.strategy.broker.getvalue()

    def get_analysis(self) -> dict[dt.date, float]:
        return self.values
