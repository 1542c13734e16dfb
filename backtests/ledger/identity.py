"""What makes two runs the same trial: the same prices (the data fingerprint, a hash of every date
and value) and the same settings that decide results, whatever the data is called.

A renamed copy of MSFT.csv with identical prices is the same data: the ticker label and where the
file lives are data settings, and every data setting that changes results changes the prices, so
the fingerprint counts it. Report switches change what is written, not what is computed.
"""
from __future__ import annotations

import json
from typing import Any

from backtests.outputs.results import result_settings
from backtests.pipeline.forecast_cache import settings_hash as hash_settings

# Left out of a trial's settings: the report switches and attributions (a run with and without its
# tearsheet or its explanation is the same trial), the mode, the data's own settings and label
# (counted by the data fingerprint: a CSV's folder or name, the ticker it is filed under, download
# retries, a cache's age), and a universe's name, member list, as-of date, membership file and
# survivors switch (its fingerprint holds every member's prices and the membership spells) and its
# fan-out (n_jobs, the executor and its Dask cluster change where work runs, not what it gives).
NOT_RESULTS = (("report", "tearsheet"), ("report", "plots"), ("report", "explain"), ("explain",),
               ("mode",), ("data",), ("ticker",), ("universe", "name"), ("universe", "tickers"),
               ("universe", "as_of"), ("universe", "file"), ("universe", "survivors"),
               ("universe", "n_jobs"), ("universe", "executor"), ("universe", "dask"), ("evaluation",))


def strip_labels(settings: dict) -> dict:
    """`settings` (result_settings of a config) less NOT_RESULTS; the input is left unchanged."""
    kept = json.loads(json.dumps(settings, sort_keys=True, default=str))
    for path in NOT_RESULTS:
        node = kept
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return kept


def trial_settings(config: Any) -> dict:
    """The settings that decide a trial's results (result_settings, less NOT_RESULTS)."""
    return strip_labels(result_settings(config) or {})


def settings_hash(settings: dict) -> str:
    """A short, stable hash of `settings` (JSON with sorted keys), as the caches hash theirs."""
    return hash_settings(settings, 16)


def rekeyed(stored: str) -> tuple[str, str]:
    """A ledger row's stored settings JSON as today's key sees it: (settings JSON, its hash)."""
    settings = strip_labels(json.loads(stored))
    return json.dumps(settings, sort_keys=True, default=str), settings_hash(settings)
