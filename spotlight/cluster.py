"""Where a command's Dask work runs: ``--cluster`` or ``SPOTLIGHT_DASK_SCHEDULER``.

- unset: one process, Dask never imported (the default);
- ``local`` or ``local:N``: a ``distributed.LocalCluster`` of N worker processes (default: one
  per core), one thread each, started for the command and stopped after it;
- a scheduler address (``tcp://scheduler:8786``, ``tls://...``): an existing cluster, e.g.
  Dask on Kubernetes. Its workers must run the same Spotlight version and see the market
  directory at the same path; the MLflow store is written by this process only.

``SPOTLIGHT_DASK_MEMORY_LIMIT`` caps each local worker's memory (e.g. ``6GiB``; default: the
machine's memory split evenly), past which Dask spills to disk and then restarts the worker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from spotlight.exit_code import CommandError, ExitCode

ENV = "SPOTLIGHT_DASK_SCHEDULER"
MEMORY_ENV = "SPOTLIGHT_DASK_MEMORY_LIMIT"
CONNECT_TIMEOUT_S = 20
REMOTE = ("tcp://", "tls://", "ws://", "wss://", "ucx://", "inproc://")


class ClusterError(CommandError):
    """A cluster that cannot be reached or a ``--cluster`` value that means nothing."""


def target(option: str | None) -> str | None:
    """The cluster asked for: ``--cluster``, else ``SPOTLIGHT_DASK_SCHEDULER``, else None (one process)."""
    value = option if option is not None else os.environ.get(ENV)
    return value.strip() or None if value is not None else None


def is_remote(spec: str) -> bool:
    """A scheduler address: ``tcp://host:port`` (or another Dask scheme) or plain ``host:port``."""
    return spec.startswith(REMOTE) or re.fullmatch(r"[A-Za-z0-9_.-]+:\d+", spec) is not None and not spec.startswith(
        "local:")


def workers(spec: str) -> int | None:
    """N of ``local:N`` (None for ``local``); :class:`ClusterError` for anything else."""
    if spec == "local":
        return None
    head, _, count = spec.partition(":")
    if head != "local" or not count.isdigit() or int(count) < 1:
        raise ClusterError(f"--cluster must be local, local:N (N >= 1) or a scheduler address such as "
                           f"tcp://scheduler:8786, got {spec!r}", ExitCode.USAGE)
    return int(count)


@contextmanager
def connect(option: str | None, say: Callable[[str], None] = lambda line: None) -> Iterator[Any]:
    """A ``distributed.Client`` for the cluster asked for (None when none is), closed on exit;
    ``say`` gets one line naming it and its dashboard."""
    spec = target(option)
    if spec is None:
        yield None
        return
    n = None if is_remote(spec) else workers(spec) or os.cpu_count() or 1
    from distributed import Client, LocalCluster

    if is_remote(spec):
        try:
            client = Client(spec, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {spec} within {CONNECT_TIMEOUT_S} s: {exc}") from None
        with client:
            n = len(client.scheduler_info().get("workers", {}))
            say(f"dask: scheduler {spec}, {n} workers, dashboard {client.dashboard_link}")
            yield client
        return
    memory = os.environ.get(MEMORY_ENV, "auto")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        say(f"dask: LocalCluster of {n} worker processes (memory limit {memory} each), "
            f"dashboard {client.dashboard_link}")
        yield client
