"""Resident memory of a process tree, read from /proc (Linux): what the universe benchmarks report."""
from __future__ import annotations

from pathlib import Path


def rss_kb(pid: int) -> int:
    """The resident set of one process in kB (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def family(pid: int) -> list[int]:
    """pid and every process below it (loky or Dask workers included)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return found


def tree_mb(pid: int) -> float:
    """The summed resident memory of pid and its descendants, MB."""
    return sum(rss_kb(p) for p in family(pid)) / 1024
