"""The forecast journal: what each evening's run forecast and decided, written before the outcome.

store.py keeps the append-only files (under a lock), scores.py scores the live record from them
alone; backtests/stages/journal.py builds the entries from the chain's own records.
"""
