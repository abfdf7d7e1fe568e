"""The bar for start lateness: an in-process APScheduler job, every second.

APScheduler's ``BlockingScheduler`` runs the job in a thread of the scheduler's
own process (no isolation: a crash, leak or hang of the job is the
scheduler's). Each run records ``time.time()`` minus its scheduled second, the
same measure as ``bench/clock.py`` (c) for the clock, whose every run is a
forked child that opens its own database connection and stamps ``started_at``.

    .venv/bin/python bench/apscheduler_lateness.py [--ticks 60]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=60)
    args = parser.parse_args()

    late_ms: list[float] = []
    scheduler = BlockingScheduler(timezone="UTC")

    def job() -> None:
        now = time.time()
        late_ms.append((now - math.floor(now)) * 1000)
        if len(late_ms) >= args.ticks:
            scheduler.shutdown(wait=False)

    start = datetime.fromtimestamp(math.floor(time.time()) + 1, tz=UTC)
    scheduler.add_job(job, IntervalTrigger(seconds=1, start_date=start), max_instances=1)
    scheduler.start()

    ordered = sorted(late_ms)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    print(f"APScheduler (in-process thread), every 1 s, {len(late_ms)} ticks:")
    print(f"  start lateness median {statistics.median(late_ms):.1f} ms, p95 {p95:.1f} ms,")
    print(f"  max {ordered[-1]:.1f} ms")


if __name__ == "__main__":
    main()
