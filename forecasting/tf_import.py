"""Import Keras (and TensorFlow) once, lazily, without its C++ start-up chatter on stderr.

TensorFlow costs ~2 s to import, so only code that trains or loads a network calls this, and runs
served from the forecast cache never pay it. Its oneDNN/CPU-feature INFO lines are printed by C++
before logging is configured (no environment variable silences them), so file descriptor 2 is
pointed at /dev/null for the import alone; Python exceptions still propagate as usual.
"""
from __future__ import annotations

import os
import sys
from types import ModuleType


def import_keras() -> ModuleType:
    """Return the keras module, importing it quietly the first time."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")  # e.g. retracing warnings in user-written loops
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras


def cap_threads(threads: int) -> None:
    """Give TensorFlow at most `threads` threads in this process (n worker processes each taking
    every core would fight over them); a process where it already runs keeps its setting."""
    import_keras()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # a reused worker: TensorFlow is already running with its setting
        pass
