"""Experiment tracking (logger=mlflow): runs and sweeps in MLflow, imported only when used."""
