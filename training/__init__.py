"""Walk-forward LightGBM training, evaluation and the training run's MLflow record.

Data flows one way: a market -> ``prepare`` (panel, labels, model input) -> ``run_walk_forward``
(out-of-sample scores of the model and the baselines) -> ``training.evaluate`` -> ``fit_final`` ->
``training.mlflow_run.log_training`` (import it directly: it loads MLflow). ``training.train.train``
runs the whole step; no name here shadows a submodule.
"""

from training.config import ConfigError, TrainConfig
from training.evaluate import Evaluation
from training.models import GBM, RidgeRanks, SingleFactor
from training.train import TrainingData, TrainResult, fit_final, prepare, run_walk_forward
from training.walk_forward import Fold, WalkForward

__all__ = [
    "GBM", "ConfigError", "Evaluation", "Fold", "RidgeRanks", "SingleFactor", "TrainConfig", "TrainResult",
    "TrainingData", "WalkForward", "fit_final", "prepare",
    "run_walk_forward",
]
