"""A database error at any statement of ``Engine.step`` leaves no claimed run
without a process or a record (the review's defect 7: claims were all made
first, then ``missed`` rows written, then children forked; an error in between
left ``running`` rows with no child, reaped a minute later as ``abandoned``).

The test walks every statement of a step that reaps, records missed ticks,
claims two ticks and an admin request, making the k-th statement fail.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import DatabaseError, connection, connections

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import parse_task
from core.scheduling.engine import Engine
from core.scheduling.state import ensure_task_rows
from core.scheduling.supervisor import Supervisor
from tests.db_faults import FailingStatement

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5, seconds=10)


def specs():
    return {name: parse_task(name, {"command": "check", "every": 60}, "UTC") for name in ("a", "b")}


def seed() -> None:
    TaskRun.objects.all().delete()
    ensure_task_rows(["a", "b"])  # so that every step runs the same statements
    for name in ("a", "b"):
        TaskRun.objects.create(
            task=name,
            scheduled_for=T0,
            trigger=Trigger.CLOCK,
            status=Status.SUCCEEDED,
            finished_at=T0,
        )
    TaskRun.objects.create(
        task="a",
        scheduled_for=NOW - timedelta(seconds=3, microseconds=-7),
        trigger=Trigger.ADMIN,
        status=Status.QUEUED,
        on_tick=False,
        exclusive=False,
    )


@pytest.fixture
def supervisor(make_supervisor) -> Supervisor:
    return make_supervisor(heartbeat=0.5)


def step_failing_at(k: int | None, supervisor: Supervisor) -> FailingStatement:
    fault = FailingStatement(k)
    engine = Engine(Trigger.CLOCK, specs())
    with time_machine.travel(NOW, tick=True), connection.execute_wrapper(fault):
        try:
            engine.step(supervisor)
        except DatabaseError:
            assert fault.failed_sql is not None  # only our injected error
        connections.close_all()
    return fault


@pytest.mark.django_db(transaction=True)
def test_every_claimed_run_has_a_process_or_a_record_whatever_statement_fails(
    supervisor: Supervisor,
) -> None:
    seed()
    total = step_failing_at(None, supervisor).seen
    supervisor.run_to_end(time.monotonic() + 30)
    # What a clean step does: 4 missed, 2 ticks and the request claimed and run.
    assert TaskRun.objects.filter(status=Status.MISSED).count() == 8
    assert TaskRun.objects.filter(status=Status.SUCCEEDED).count() == 5
    assert total > 10

    for k in range(1, total + 1):
        seed()
        fault = step_failing_at(k, supervisor)
        assert fault.failed_sql is not None, f"statement {k} of {total} was never reached"
        running = set(TaskRun.objects.filter(status=Status.RUNNING).values_list("pk", flat=True))
        ours = set(supervisor.own_run_ids())
        assert running <= ours, (
            f"a failure at statement {k} ({fault.failed_sql[:80]}) left runs "
            f"{sorted(running - ours)} running with no process"
        )
        supervisor.run_to_end(time.monotonic() + 30)
        supervisor.tend()
        assert not TaskRun.objects.filter(status=Status.RUNNING).exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_process_cannot_be_forked_is_recorded_failed_at_once(
    supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed()

    def no_more_processes() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("core.scheduling.forking.os.fork", no_more_processes)
    with time_machine.travel(NOW, tick=True):
        claimed = Engine(Trigger.CLOCK, specs()).step(supervisor)
    started = [c for c in claimed if c.run is not None]
    assert [c.result for c in started] == ["not started"] * 3
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()
    failed = TaskRun.objects.filter(status=Status.FAILED)
    assert failed.count() == 3
    assert all("could not start the task: [Errno 11]" in run.error for run in failed)
