"""The bar for start lateness: an in-process APScheduler job, every second.

APScheduler's ``BlockingScheduler`` runs the job in a thread of the scheduler's
own process (no isolation: a crash, leak or hang of the job is the
scheduler's). Each run's lateness is the moment the job began (``time.time()``,
its return value) minus the run time APScheduler scheduled it for (the
``scheduled_run_time`` of its execution event): the same measure as
``bench/clock.py`` (c) for the clock (``started_at - scheduled_for``), whose
every run is a forked child that opens its own database connection and stamps
``started_at``. Ticks of the window that APScheduler dropped (too late for its
1 s misfire grace, coalesced with a later one, or the previous run still going)
are counted, not measured.

    .venv/bin/python bench/apscheduler_lateness.py [--ticks 60] [--interval 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger


def lateness_ms(started: float, scheduled: datetime) -> float:
    """How late (ms) a run that began at ``started`` (epoch s) was for ``scheduled``."""
    return (started - scheduled.timestamp()) * 1000


@dataclass
class Ticks:
    scheduled: int  # ticks in the measured window
    late_ms: list[float] = field(default_factory=list)  # one per tick that ran
    errors: list[str] = field(default_factory=list)

    @property
    def not_run(self) -> int:
        """Ticks APScheduler dropped: past its misfire grace, coalesced, or still busy."""
        return self.scheduled - len(self.late_ms) - len(self.errors)


def measure(ticks: int, interval: float = 1.0) -> Ticks:
    """Run a no-op job every ``interval`` s over a window of ``ticks`` ticks."""
    result = Ticks(ticks)
    lock = threading.Lock()
    scheduler = BlockingScheduler(timezone="UTC")
    # The first tick on the next whole second, as the clock's ticks are.
    start = datetime.fromtimestamp(math.floor(time.time()) + 1, tz=UTC)
    # The last tick of the window (half an interval of slack against rounding).
    last = start + timedelta(seconds=interval * (ticks - 1)) - timedelta(seconds=interval / 2)
    end = last + timedelta(seconds=interval)

    def job() -> float:
        return time.time()

    def on_event(event: JobEvent) -> None:
        if isinstance(event, JobExecutionEvent):
            times = [event.scheduled_run_time]
        else:  # a JobSubmissionEvent (max instances reached)
            times = list(getattr(event, "scheduled_run_times", []))
        with lock:
            if isinstance(event, JobExecutionEvent) and event.scheduled_run_time < end:
                if event.code == EVENT_JOB_EXECUTED:
                    result.late_ms.append(lateness_ms(event.retval, event.scheduled_run_time))
                elif event.code == EVENT_JOB_ERROR:
                    result.errors.append(repr(event.exception))
            if any(when >= last for when in times):
                scheduler.shutdown(wait=False)

    scheduler.add_listener(
        on_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
    )
    scheduler.add_job(job, IntervalTrigger(seconds=interval, start_date=start), max_instances=1)
    scheduler.start()
    return result


def nearest_rank(ordered: list[float], pct: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=60)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks (1)")
    args = parser.parse_args()

    result = measure(args.ticks, args.interval)
    if not result.late_ms:
        raise SystemExit(f"no run to measure: {result}")
    ordered = sorted(result.late_ms)
    print(f"APScheduler (in-process thread), every {args.interval:g} s, {len(ordered)} ticks:")
    print(
        f"  start lateness median {statistics.median(ordered):.1f} ms, "
        f"p95 {nearest_rank(ordered, 95):.1f} ms,"
    )
    print(f"  max {ordered[-1]:.1f} ms")
    print(
        f"  (min {ordered[0]:.1f} ms; of {result.scheduled} ticks {result.not_run} not run "
        f"(past the 1 s misfire grace, coalesced or busy), {len(result.errors)} failed)"
    )
    for error in result.errors:
        print(f"  error: {error}")


if __name__ == "__main__":
    main()
