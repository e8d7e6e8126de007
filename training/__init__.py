"""Walk-forward LightGBM training, evaluation and MLflow tracking (built in the training issue)."""
