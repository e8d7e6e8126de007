"""Run the retraining job in this process, pausing forever at one named point so a test can
kill -9 it there. Fault injection lives here, not in the product code.

    python tests/spotlight/fault_runner.py POINT MARKER DATA ROOT CONFIG URI

POINT: ``training`` (inside the second LightGBM fit of the walk-forward), ``registration``
(the model version is registered, its alias not yet set, the run still RUNNING) or
``publish`` (the bundle is moved into the serving root, ``current`` not yet swapped) or
``promotion`` (``current`` swapped to the new bundle, ``champion`` not yet moved).
MARKER is created when the pause begins.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def main() -> None:
    point, marker, data, root, config, uri = sys.argv[1:7]

    def pause() -> None:
        Path(marker).touch()
        time.sleep(3600)

    if point == "training":
        from training.models import GBM

        original, calls = GBM.fit, []

        def fit(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                pause()
            return original(self, *args, **kwargs)

        GBM.fit = fit
    elif point == "registration":
        from mlflow.tracking import MlflowClient

        def set_alias(self, *args, **kwargs):
            pause()

        MlflowClient.set_registered_model_alias = set_alias
    elif point == "promotion":
        from mlflow.tracking import MlflowClient

        original_alias = MlflowClient.set_registered_model_alias

        def set_alias_then_pause(self, name, alias, version):
            if alias == "champion":
                pause()
            return original_alias(self, name, alias, version)

        MlflowClient.set_registered_model_alias = set_alias_then_pause
    elif point == "publish":
        import release.publish

        release.publish._point = lambda *args, **kwargs: pause()
    else:
        raise SystemExit(f"unknown point {point!r}")

    from spotlight.config import load_config
    from spotlight.jobs.retrain import retrain

    outcome = retrain(Path(data), Path(root), load_config(Path(config)), uri)
    raise SystemExit(f"reached the end without pausing: {outcome}")


if __name__ == "__main__":
    main()
