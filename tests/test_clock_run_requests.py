"""Admin "run now" requests (``queued`` rows) are picked up by a running clock
within a few ``SCHEDULED_TASKS_POLL`` intervals, not at the task's next tick."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from tests.processes import Processes, read_records, record_task, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_queued_admin_request_is_run_by_a_sleeping_clock(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"yearly": record_task(records_file, schedule="0 0 1 1 *")}
    clock = processes.clock(tasks)  # SCHEDULED_TASKS_POLL=0.5
    wait_for(lambda: "clock started" in clock.output(), timeout=30, what="the clock to start")
    request = TaskRun.objects.create(
        task="yearly",
        scheduled_for=timezone.now(),
        attempt=1,
        trigger=Trigger.ADMIN,
        status=Status.QUEUED,
    )
    wait_for(
        lambda: TaskRun.objects.filter(pk=request.pk, status=Status.SUCCEEDED).exists(),
        timeout=15,
        what="the request to be run",
    )
    request.refresh_from_db()
    assert request.trigger == Trigger.ADMIN
    assert request.started_at is not None
    # Picked up at a poll, far from the yearly tick; generous bound for a loaded machine.
    assert (request.started_at - request.created_at).total_seconds() < 10
    assert [r["run"] for r in read_records(records_file) if r["event"] == "start"] == [request.pk]
    assert TaskRun.objects.count() == 1
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0
