"""Guarantees 1 and 3 with real processes: three clocks and a loop of ``runtasks``
race for the same ticks; every tick is started once and recorded, with no gaps."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from core.models import Status, TaskRun
from core.scheduling.config import parse_task
from tests.processes import Processes, read_records, record_task

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RACE_SECONDS = 12


def test_each_tick_starts_exactly_once_across_three_clocks_and_runtasks(
    processes: Processes, records_file: Path
) -> None:
    tasks = {
        "every1": record_task(records_file, every=1),
        "every2": record_task(records_file, every=2),
    }
    clocks = [processes.clock(tasks, name=f"clock{i}") for i in range(3)]
    # runtasks invoked again and again while the clocks run, like an
    # overlapping Heroku Scheduler.
    end = time.monotonic() + RACE_SECONDS
    runtasks_runs = 0
    while time.monotonic() < end:
        code, output = processes.manage(["runtasks"], tasks)
        assert code == 0, output
        runtasks_runs += 1
    stop_requested = timezone.now()
    for clock in clocks:
        clock.signal(15)
    for clock in clocks:
        assert clock.wait(25) == 0, clock.output()[-3000:]
    assert runtasks_runs >= 3

    rows = list(TaskRun.objects.filter(task__in=tasks).order_by("scheduled_for"))
    assert not [r for r in rows if r.status in (Status.RUNNING, Status.QUEUED)]
    starts = [r for r in read_records(records_file) if r["event"] == "start"]
    keys = Counter((s["task"], s["tick"], s["attempt"]) for s in starts)
    duplicates = {key: n for key, n in keys.items() if n > 1}
    assert not duplicates, f"ticks executed more than once: {duplicates}"
    assert len(starts) >= 10  # the race did happen, over many ticks

    # The database and the side effects agree: every execution has its row, and
    # every row that says it ran has exactly one execution.
    by_key = {(r.task, r.scheduled_for.isoformat(), r.attempt): r for r in rows}
    for start in starts:
        row = by_key[(start["task"], start["tick"], start["attempt"])]
        assert row.pk == start["run"]
        assert row.status in (Status.SUCCEEDED, Status.INTERRUPTED)
        assert row.host.endswith(f":{start['pid']}")
    ran = {key for key, row in by_key.items() if row.status == Status.SUCCEEDED}
    assert ran <= set(keys)

    for name, entry in tasks.items():
        spec = parse_task(name, entry, "UTC")
        ticks = [r.scheduled_for for r in rows if r.task == name and r.attempt == 1]
        assert len(ticks) == len(set(ticks))
        # No gaps: every tick from the first recorded one to the last has a row.
        expected = spec.ticks_between(ticks[0] - timedelta(microseconds=1), ticks[-1])
        assert ticks == expected
        # Ticks well before the stop ended in a normal state (a run caught by
        # the SIGTERM itself may be interrupted).
        settled: datetime = stop_requested - timedelta(seconds=2)
        statuses = {r.status for r in rows if r.task == name and r.scheduled_for < settled}
        assert statuses <= {Status.SUCCEEDED, Status.MISSED, Status.SKIPPED}, statuses
        assert Status.SUCCEEDED in statuses
