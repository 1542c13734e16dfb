"""End a finished run's process at once, without the interpreter's teardown.

After a run that trained a network, Python's own shutdown (clearing every module and collecting
TensorFlow's objects) took 1.5 s of a 21 s default run, after the last file was written. A
finished run needs nothing of it: its files are closed and renamed into place (backtests/atomic.py).
So a run that ended without error does what the interpreter's shutdown does that matters, in the
same order (the executors' exit hooks, joining the threads still running, then the exit
handlers: logging's flush, temporary folders' removal, the trackers'), flushes its output and
leaves with status 0. An error takes the usual way out (its status and message are the
interpreter's).
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_done() -> NoReturn:
    """Leave the process with status 0 (1 if the reader of its output went away)."""
    # What Python's shutdown does first: the executors' exit hooks (concurrent.futures and loky
    # stop their worker pools there), then it joins every thread still running (not daemons).
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    else:  # pragma: no cover  (CPython has it; another interpreter: at least join the threads)
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
    atexit._run_exitfuncs()  # then every exit handler registered, newest first
    status = 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # e.g. `python run.py ... | head`: nobody reads it any more
            status = 1
    os._exit(status)
