"""Run one experiment: `python run.py strategy=lstm_momentum ticker=MSFT` (see README.md)."""
import hydra
from omegaconf import DictConfig

from backtests.cli import main as run_configured
from backtests.cli import run


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run_configured(cfg)


if __name__ == "__main__":
    run(main)  # user mistakes, Hydra's included, end as one `error:` line and exit status 2
