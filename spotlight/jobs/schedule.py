"""Run the retraining job, and the daily refresh, on cron expressions (APScheduler).

Each run is a separate ``spotlight retrain`` or ``spotlight refresh`` process, so a crash or a kill cannot take the
scheduler down, and the job's own lock keeps two runs from overlapping even across
schedulers. One run at a time here too (``max_instances=1``); missed runs are coalesced into
one and may start up to an hour late (``misfire_grace_time``); a job due while another runs
waits for it. A run's exit code is logged: 0 promoted (or refreshed), 4 champion kept (or
already served), 3 parity gate failed, 1 failed, 2 no champion to refresh, 75 locked.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import threading
from collections.abc import Callable, Sequence

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _crontab_days(field: str) -> str:
    """Crontab's day-of-week numbers (0 or 7 = Sunday) as names: APScheduler 3 numbers days
    from Monday = 0, so ``from_crontab('0 18 * * 1-5')`` would fire Tuesday to Saturday."""
    if "/" in field:
        raise ValueError("steps in the day-of-week field are ambiguous; list the days (e.g. 1,3,5)")
    parts = []
    for part in field.split(","):
        low, _, high = part.partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            parts.append(part)  # names and * pass through
            continue
        a, b = int(low), int(high) if high else None
        if a > 7 or (b is not None and (b > 7 or b < a)):
            raise ValueError(f"day of week {part!r} is out of 0-7")
        if b is None:
            parts.append(DAYS[a])
        elif a == 0:
            parts.append("sun" if b in (0, 7) else f"sun,mon-{DAYS[b]}" if b < 7 else "*")
        else:
            parts.append(f"{DAYS[a]}-{DAYS[b]}" if b < 7 else f"{DAYS[a]}-sat,sun")
    return ",".join(parts)


def trigger(cron: str, timezone: str | None = None) -> CronTrigger:
    """The trigger for a five-field crontab expression (crontab's meaning of every field);
    ValueError naming the problem."""
    try:
        fields = cron.split()
        if len(fields) != 5:
            raise ValueError(f"{len(fields)} fields")
        minute, hour, day, month, dow = fields
        if day != "*" and dow != "*":
            raise ValueError("day of month and day of week both restricted: crontab fires when either matches, "
                             "APScheduler when both do; restrict one of them")
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_crontab_days(dow),
                           timezone=timezone)
    except (ValueError, LookupError) as exc:
        raise ValueError(f"bad cron expression {cron!r} ({exc}); expected five fields, e.g. '0 18 * * 1-5'") from None


def next_times(cron: str, after: dt.datetime, n: int = 3, timezone: str | None = None) -> list[dt.datetime]:
    """The next ``n`` times ``cron`` fires after ``after`` (timezone-aware)."""
    rule, out, previous = trigger(cron, timezone), [], None
    now = after
    for _ in range(n):
        nxt = rule.get_next_fire_time(previous, now)
        out.append(nxt)
        previous, now = nxt, nxt + dt.timedelta(seconds=1)
    return out


def run(jobs: Sequence[tuple[str, str, Sequence[str]]], *, timezone: str | None = None, run_now: bool = False,
        max_runs: int | None = None, say: Callable[[str], None] = print) -> int:
    """Block, running each job's ``argv`` on its ``cron`` (``jobs``: (name, cron, argv), e.g. a
    monthly retrain and a daily refresh) and, with ``run_now``, each once at start in the order
    given; returns the number of runs when ``max_runs`` is reached. Runs never overlap: one due
    while another runs waits for it (the jobs share the serving root's lock, so an overlapping
    one would only exit 75)."""
    rules = {name: trigger(cron, timezone) for name, cron, _ in jobs}
    zone = next(iter(rules.values())).timezone
    scheduler = BlockingScheduler(timezone=zone)
    one_at_a_time = threading.Lock()
    runs = 0

    def job(name: str, argv: Sequence[str]) -> None:
        nonlocal runs
        with one_at_a_time:
            if max_runs is not None and runs >= max_runs:
                return
            started = dt.datetime.now(zone)
            code = subprocess.run(list(argv)).returncode
            runs += 1
            say(f"{started:%Y-%m-%d %H:%M:%S %Z}: {name} exited {code}")
            if max_runs is not None and runs >= max_runs:
                scheduler.shutdown(wait=False)

    now = dt.datetime.now(zone)
    for k, (name, cron, argv) in enumerate(jobs):
        scheduler.add_job(job, rules[name], args=(name, argv), id=name, max_instances=1, coalesce=True,
                          misfire_grace_time=3600)
        if run_now:
            scheduler.add_job(job, args=(name, argv), id=f"{name}-now", next_run_time=now + dt.timedelta(seconds=k))
        nxt = rules[name].get_next_fire_time(None, now)
        say(f"scheduled {name} on '{cron}' ({zone}); next run {nxt:%Y-%m-%d %H:%M %Z}")
    scheduler.start()
    return runs
