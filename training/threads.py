"""How many threads LightGBM uses: ``lightgbm.num_threads = 0`` (auto) resolves here.

Auto = half the cores this process may run on (its CPU affinity, lowered to a container's
CPU quota: cgroup v2 ``cpu.max``, rounded up), at least 1 and at most :data:`AUTO_MAX`.
Half, because LightGBM wants physical cores, not hyper-threads, and because the demo's fits
(tens of thousands of rows, ~100 rounds) gain little from more threads and lose much when
the threads compete for busy cores: on 2 cores, one thread was as fast as two quiet and
under contention, and two threads with OpenMP's default spin-waiting ran 2-8x slower on a
busy machine (``benchmarks/threads.py``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

AUTO_MAX = 4
CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def quota_cores(cpu_max: Path = CPU_MAX) -> int | None:
    """ceil(quota / period) of a cgroup v2 ``cpu.max`` (``"200000 100000"`` -> 2); None when
    unlimited (``"max ..."``) or unreadable."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def available_cores(cpu_max: Path = CPU_MAX) -> int:
    """Cores this process may run on: its affinity mask (``os.cpu_count()`` where there is
    none), lowered to the cgroup's CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = quota_cores(cpu_max)
    return min(cores, quota) if quota is not None else cores


def resolve_threads(num_threads: int, cores: int | None = None) -> int:
    """``num_threads`` when set (>= 1); for 0 (auto) clip(``cores`` // 2, 1, :data:`AUTO_MAX`),
    ``cores`` defaulting to :func:`available_cores`."""
    if num_threads >= 1:
        return num_threads
    return max(1, min((available_cores() if cores is None else cores) // 2, AUTO_MAX))
