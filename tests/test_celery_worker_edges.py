"""``execute_run``'s edges, in process, where a real worker cannot be aimed at them.

* A run a stopping worker received but did not start is sent again at the next
  step. The window is a SIGTERM landing between the message's arrival and the
  claim, too narrow to aim a real signal at: ``execute_run`` runs here with the
  worker's stop flag set, as the pool process would after that SIGTERM.
* A run of a task this worker does not declare (a worker deployed with other
  settings) is recorded failed, and counts for the failure mail like any other.

The publish function is the executor's own seam, recording what it is asked to send.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from core.scheduling import worker
from core.scheduling.config import parse_task
from core.scheduling.engine import Engine
from core.scheduling.executors.celery import CeleryExecutor
from core.scheduling.supervisor import Supervisor

pytestmark = [pytest.mark.database_server, pytest.mark.django_db(transaction=True)]

ENTRY = {"command": "check", "every": 3600}


def sent_run(published: list[int]) -> TaskRun:
    spec = parse_task("job", ENTRY, "UTC")
    executor = CeleryExecutor(publish=lambda pk: published.append(pk))
    engine = Engine(Trigger.CLOCK, {"job": spec}, executor=executor)
    claimed = engine.claim_tick(spec, datetime(2030, 1, 7, tzinfo=UTC), 1, Trigger.CLOCK)
    assert claimed.run is not None
    supervisor = Supervisor()
    try:
        engine.start(supervisor, spec, claimed)
    finally:
        supervisor.close()
    run = TaskRun.objects.get(pk=claimed.run.pk)
    assert (run.status, run.dispatches, published) == (Status.QUEUED, 1, [run.pk])
    return run


@override_settings(SCHEDULED_TASKS={"job": ENTRY}, SCHEDULED_TASKS_DISPATCH_TIMEOUT=300)
def test_a_run_handed_back_by_a_stopping_worker_is_sent_again_at_the_next_step() -> None:
    published: list[int] = []
    run = sent_run(published)

    worker._stopping = True  # the pool process got SIGTERM just as the message arrived
    try:
        assert worker.execute_run(run.pk) is None
    finally:
        worker._stopping = False
    run.refresh_from_db()
    assert run.status == Status.QUEUED
    assert run.dispatched_at is None
    assert "handed back" in run.error

    CeleryExecutor(publish=lambda pk: published.append(pk)).tend()
    run.refresh_from_db()
    assert published == [run.pk, run.pk]
    assert (run.status, run.dispatches, run.error) == (Status.QUEUED, 2, "")
    assert run.dispatched_at is not None


@override_settings(SCHEDULED_TASKS={"job": ENTRY}, SCHEDULED_TASKS_DISPATCH_TIMEOUT=300)
def test_a_handed_back_run_that_cannot_be_sent_for_too_long_is_given_up() -> None:
    published: list[int] = []
    run = sent_run(published)
    # Sent once, handed back, and unsendable since: two timeouts after it was claimed it ends.
    TaskRun.objects.filter(pk=run.pk).update(
        dispatched_at=None,
        error="could not send it to the workers: connection refused",
        created_at=timezone.now() - timedelta(seconds=599),
    )
    CeleryExecutor(publish=lambda pk: "connection refused").tend()
    run.refresh_from_db()
    assert run.status == Status.QUEUED  # still inside its two timeouts: tried, not given up
    TaskRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=601))
    CeleryExecutor(publish=lambda pk: "connection refused").tend()
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
    assert "not sent to the workers within 300 s" in run.error
    assert "connection refused" in run.error


@override_settings(
    SCHEDULED_TASKS={"job": ENTRY},
    ADMINS=[("Ops", "ops@example.com")],
    SCHEDULED_TASKS_NOTIFY_AFTER=1,
)
def test_a_run_of_a_task_the_worker_does_not_declare_fails_and_is_reported() -> None:
    run = sent_run([])
    with override_settings(SCHEDULED_TASKS={}):  # this worker's settings
        assert worker.execute_run(run.pk) is None
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert run.finished_at is not None
    assert "not declared in this worker's SCHEDULED_TASKS" in run.error
    assert len(mail.outbox) == 1, "the failure streak went unreported"
    assert "job" in mail.outbox[0].subject
