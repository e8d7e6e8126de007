"""Run the retraining job on a cron expression (APScheduler's ``CronTrigger.from_crontab``).

Each run is a separate ``spotlight retrain`` process, so a crash or a kill cannot take the
scheduler down, and the job's own lock keeps two runs from overlapping even across
schedulers. One run at a time here too (``max_instances=1``); missed runs are coalesced into
one and may start up to an hour late (``misfire_grace_time``). A run's exit code is logged:
0 promoted, 4 champion kept, 3 parity gate failed, 1 failed, 75 locked.
"""

from __future__ import annotations

import datetime as dt
import subprocess
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


def run(cron: str, argv: Sequence[str], *, timezone: str | None = None, run_now: bool = False,
        max_runs: int | None = None, say: Callable[[str], None] = print) -> int:
    """Block, running ``argv`` on ``cron`` (and once at start with ``run_now``); returns the
    number of runs when ``max_runs`` is reached."""
    rule = trigger(cron, timezone)
    scheduler = BlockingScheduler(timezone=rule.timezone)
    runs = 0

    def job() -> None:
        nonlocal runs
        started = dt.datetime.now(rule.timezone)
        code = subprocess.run(list(argv)).returncode
        runs += 1
        say(f"{started:%Y-%m-%d %H:%M:%S %Z}: retrain exited {code}")
        if max_runs is not None and runs >= max_runs:
            scheduler.shutdown(wait=False)

    scheduler.add_job(job, rule, id="retrain", max_instances=1, coalesce=True, misfire_grace_time=3600)
    if run_now:
        scheduler.add_job(job, id="retrain-now", next_run_time=dt.datetime.now(rule.timezone))
    nxt = rule.get_next_fire_time(None, dt.datetime.now(rule.timezone))
    say(f"scheduled retrain on '{cron}' ({rule.timezone}); next run {nxt:%Y-%m-%d %H:%M %Z}")
    scheduler.start()
    return runs
