"""A finished run leaves at once, but with everything the interpreter's shutdown would have done."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import atexit, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from backtests.finish import exit_done
folder = Path(sys.argv[1])
def late():
    time.sleep(0.3)
    (folder / "thread.txt").write_text("joined")
threading.Thread(target=late).start()
pool = ThreadPoolExecutor(1)  # never shut down: its thread stops at the executors' exit hook
pool.submit(time.sleep, 0.1)
atexit.register(lambda: (folder / "atexit.txt").write_text("ran"))
print("buffered output")  # a pipe: block-buffered, only flushed at exit
exit_done()
print("never")
"""


def test_a_finished_process_stops_its_pools_joins_its_threads_runs_its_exit_handlers_and_flushes(
        tmp_path: Path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "buffered output\n"
    assert (tmp_path / "thread.txt").read_text() == "joined"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
