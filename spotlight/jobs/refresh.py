"""The daily refresh behind ``spotlight refresh``: today's rankings from the champion, no new model.

A fund watches daily and rebalances monthly; retraining every day would register a model
version per weekday. The refresh keeps the model and moves the data:

1. **Lock**: the serving root's job lock (the retrain job's, :mod:`spotlight.jobs.retrain`), so a
   refresh and a retrain never publish at once; held: exit 75, nothing touched. Recovery from a
   job that died part-way runs first, as in a retrain.
2. **Validate** the market (a contract breach: exit 1, nothing written).
3. **Nothing to do?** The champion is served on exactly this data (the served snapshot's
   content hash) under this config's crowding rule: exit 4. A market that ends before the served
   snapshot is older data: exit 4.
4. **Export** the champion on this market (features for the served dates, the latest trading
   day among them, built point-in-time; scored by ONNX through the parity gate: a failure exits
   3) and **publish** it atomically; a running service swaps it in without a restart. The model
   version, its run and the ``champion`` alias do not change.
5. **Monitor** (:mod:`spotlight.jobs.monitor`): the live model's report is brought up to date
   (realised figures of served dates whose horizon has passed, drift, the alert state); its
   failure is said and does not undo the refresh.

No champion yet: exit 2 (``spotlight retrain`` makes one). Exit codes: 0 refreshed, 4 up to
date, 3 parity gate failed, 1 failed, 2 no champion, 75 locked.
"""

from __future__ import annotations

import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from spotlight.config import AppConfig
from spotlight.exit_code import ExitCode
from spotlight.jobs.retrain import (
    Outcome,
    RetrainError,
    Say,
    champion_of,
    export_and_publish,
    recover,
    run_locked,
    served_manifest,
    validated,
)


def refresh(data: Path, root: Path, cfg: AppConfig, uri: str, say: Say | None = None) -> Outcome:
    """Run the refresh (see the module docstring) and say what it did."""
    said: Say = say or (lambda message: None)
    root = Path(root)
    return run_locked(root, lambda timings: _act(Path(data), root, cfg, uri, said, timings))


def _act(data: Path, root: Path, cfg: AppConfig, uri: str, say: Say, timings: dict[str, float]) -> Outcome:
    from market.fingerprint import fingerprint
    from release.publish import current
    from tracking.store import configure

    fp = fingerprint(validated(data, say, timings))

    client = MlflowClient(configure(uri))
    model = cfg.registered_model
    recover(client, root, model, cfg.experiment, say)
    champion = champion_of(client, model)
    if champion is None:
        raise RetrainError(f"model {model!r} has no champion to refresh; train one first: spotlight retrain "
                           f"--data {data} --serve-root {root}", ExitCode.USAGE)
    served = served_manifest(root) or {}
    snapshot, version = served.get("snapshot_data") or {}, (served.get("model") or {}).get("version")
    rule = (served.get("crowding") or {}).get("rule")
    if version == champion.version and snapshot.get("hash") == fp["hash"] and rule == cfg.crowding.as_dict():
        return Outcome(ExitCode.KEPT, "up_to_date", f"champion version {champion.version} is served on this data "
                                                    f"(to {fp['end']}); nothing to do",
                       champion.run_id, champion.version, current(root), timings=timings)
    if version == champion.version and str(fp["end"]) < str(snapshot.get("end", "")):
        return Outcome(ExitCode.KEPT, "older_data", f"this market ends {fp['end']}, before the served snapshot "
                                                    f"({snapshot['end']}); nothing to do",
                       champion.run_id, champion.version, timings=timings)
    t0 = time.perf_counter()
    say(f"export champion version {champion.version} on data to {fp['end']}")
    name = export_and_publish(uri, model, champion.run_id, root, cfg, data)
    timings["export_publish_s"] = time.perf_counter() - t0
    from spotlight.jobs.monitor import follow

    timings["monitor_s"] = follow(data, root, cfg, uri, say)  # the live model's report follows the new days
    return Outcome(ExitCode.OK, "refreshed", f"champion version {champion.version} scored on data to {fp['end']}; "
                                             f"serving {name}", champion.run_id, champion.version, name,
                   timings=timings)
