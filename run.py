"""Run one experiment: `python run.py strategy=lstm_momentum ticker=MSFT` (see README.md)."""
import hydra
from omegaconf import DictConfig

from backtests.cli import main as run_configured


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run_configured(cfg)


if __name__ == "__main__":
    main()
