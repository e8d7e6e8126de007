"""MLflow, in one place: where runs are stored, how registered versions are looked up and
moved, and the names every run's tags and artifacts use.

- :mod:`tracking.store`: the tracking URI, experiments, run creation with the common tags,
  and the removal of a run that failed part-way;
- :mod:`tracking.registry`: the ``candidate`` and ``champion`` aliases, version look-ups and
  :func:`~tracking.registry.promote`;
- :mod:`tracking.artifacts`: tag keys, artifact and metric names, and readers of a training
  run's logged artifacts.

Each stage logs its own runs with these (``training.mlflow_run``, ``backtest.mlflow_run``,
``release.export``). Nothing here imports another Spotlight package, and nothing happens at
import: :func:`~tracking.store.configure` sets the URI when a command asks for it.
"""
