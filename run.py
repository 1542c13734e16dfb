"""Run one experiment: `python run.py strategy=lstm_momentum ticker=MSFT` (see README.md)."""
import os

# numpy's OpenBLAS and TensorFlow's thread pool would each claim every core; the numpy work here is
# small (ridge baseline, features), so one BLAS thread avoids oversubscription (~20% faster runs).
# Set before numpy loads; an explicit user setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from backtests.cli import main as run_configured  # noqa: E402
from backtests.cli import run  # noqa: E402
from backtests.finish import exit_done  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run_configured(cfg)


if __name__ == "__main__":
    run(main)  # user mistakes, Hydra's included, end as one `error:` line and exit status 2
    exit_done()  # finished: no interpreter teardown (1.5 s after a network trained)
