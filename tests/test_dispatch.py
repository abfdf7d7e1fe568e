"""The celery executor's bookkeeping, in process: claims, sending, re-sending, giving up.

The broker is replaced by a recording ``publish`` (the real one is covered by
the worker tests in ``tests/test_celery_*.py``); everything else is the real
engine against the test database. Each case is a sequence a hostile broker or
a second clock can produce: a publish that fails, a message never taken, two
clocks looking after the same rows, a worker that wins while a clock re-sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import get_tasks
from core.scheduling.control import request_run
from core.scheduling.engine import ClaimResult, Engine
from core.scheduling.executors import get_executor
from core.scheduling.executors.celery import CeleryExecutor
from core.scheduling.executors.fork import ForkExecutor
from core.scheduling.supervisor import Supervisor

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = {
    "job": {"command": "check", "every": 60, "retries": 1, "retry_delay": 0},
    "free": {"command": "check", "every": 60, "overlap": "allow"},
}
TIMEOUT = 300


class Broker:
    """A stand-in for the broker: records what is published; can be down."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.down: str | None = None
        self.rows_seen: list[str] = []

    def publish(self, run_id: int) -> str | None:
        if self.down:
            return self.down
        # The row is committed before it is published: a worker can read it.
        with connection.cursor() as cursor:
            cursor.execute("SELECT status FROM core_taskrun WHERE id = %s", [run_id])
            self.rows_seen.append(cursor.fetchone()[0])
        self.sent.append(run_id)
        return None


@pytest.fixture(autouse=True)
def declared() -> Iterator[None]:
    with override_settings(
        SCHEDULED_TASKS=TASKS,
        SCHEDULED_TASKS_EXECUTOR="celery",
        SCHEDULED_TASKS_DISPATCH_TIMEOUT=TIMEOUT,
    ):
        yield


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
def step(broker: Broker) -> Iterator[Callable[..., Any]]:
    supervisors: list[Supervisor] = []

    def run(only: str = "job", **kwargs: Any) -> Any:
        engine = Engine(
            Trigger.CLOCK, get_tasks(), only=[only], executor=CeleryExecutor(broker.publish)
        )
        sup = Supervisor()
        supervisors.append(sup)
        return engine.step(sup, **kwargs)

    yield run
    for sup in supervisors:
        sup.close()


def age(run_id: int, seconds: float, field: str = "dispatched_at") -> None:
    """Move a row's dispatch (or claim) ``seconds`` into the past."""
    TaskRun.objects.filter(pk=run_id).update(**{field: timezone.now() - timedelta(seconds=seconds)})


def only_row(**filters: Any) -> TaskRun:
    return TaskRun.objects.get(task="job", **filters)


def test_get_executor_follows_the_setting_and_names_the_choices() -> None:
    assert isinstance(get_executor(), CeleryExecutor)
    assert isinstance(get_executor("fork"), ForkExecutor)
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="use one of celery, fork"):
        get_executor("threads")


def test_a_due_tick_is_claimed_queued_for_celery_and_published_after_commit(step, broker) -> None:
    claimed = step(now=timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1))
    assert [c.result for c in claimed] == [ClaimResult.STARTED]
    run = only_row()
    assert (run.status, run.executor, run.dispatches, run.on_tick) == ("queued", "celery", 1, True)
    assert run.dispatched_at is not None
    assert run.heartbeat_at is None  # no lease until a worker starts it
    assert run.finished_at is None
    assert broker.sent == [run.pk]
    assert broker.rows_seen == ["queued"]


def test_a_broker_that_is_down_leaves_the_run_unsent_with_the_reason_then_sends_it(
    step, broker
) -> None:
    broker.down = "Error 111 connecting to 127.0.0.1:6379. Connection refused."
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    step(now=tick_now)
    run = only_row()
    assert run.status == Status.QUEUED
    assert run.dispatched_at is None
    assert run.dispatches == 0
    assert run.error == f"could not send it to the workers: {broker.down}"
    # Still down: tried again, still unsent, nothing else claimed for that tick.
    step(now=tick_now + timedelta(seconds=5))
    assert broker.sent == []
    assert TaskRun.objects.count() == 1
    broker.down = None
    step(now=tick_now + timedelta(seconds=10))
    run.refresh_from_db()
    assert broker.sent == [run.pk]
    assert (run.status, run.dispatches, run.error) == ("queued", 1, "")
    assert run.dispatched_at is not None


def test_a_run_the_broker_never_took_is_abandoned_after_the_timeout_saying_why(step, broker):
    broker.down = "Connection refused"
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    step(now=tick_now)
    run = only_row()
    age(run.pk, TIMEOUT + 1, "created_at")
    step(now=tick_now + timedelta(seconds=5))
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
    assert run.error == (
        f"not sent to the workers within {TIMEOUT} s "
        "(could not send it to the workers: Connection refused)"
    )
    assert run.finished_at is not None


def test_a_run_no_worker_starts_is_sent_once_more_then_abandoned_and_retried(step, broker):
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    step(now=tick_now)
    run = only_row()
    age(run.pk, TIMEOUT - 5)
    step(now=tick_now + timedelta(seconds=1))
    assert broker.sent == [run.pk]  # not yet
    age(run.pk, TIMEOUT + 1)
    step(now=tick_now + timedelta(seconds=2))
    run.refresh_from_db()
    assert broker.sent == [run.pk, run.pk]
    assert (run.status, run.dispatches) == ("queued", 2)
    age(run.pk, TIMEOUT + 1)
    step(now=tick_now + timedelta(seconds=3))
    run.refresh_from_db()
    assert broker.sent.count(run.pk) == 2  # given up, not sent a third time
    assert run.status == Status.ABANDONED
    assert run.error == f"no worker started it in {TIMEOUT} s (sent to the workers 2 times)"
    # The task's policy goes on: retries=1 claims attempt 2, handed on like the first.
    TaskRun.objects.filter(pk=run.pk).update(finished_at=tick_now + timedelta(seconds=3))
    step(now=tick_now + timedelta(seconds=4))
    retry = only_row(attempt=2)
    assert (retry.status, retry.executor, retry.trigger) == ("queued", "celery", "retry")
    assert broker.sent == [run.pk, run.pk, retry.pk]


def test_two_clocks_looking_after_an_expired_run_send_it_once(step, broker) -> None:
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    step(now=tick_now)
    run = only_row()
    age(run.pk, TIMEOUT + 1)
    step(now=tick_now + timedelta(seconds=1))
    step(now=tick_now + timedelta(seconds=1))  # a second clock, right after
    assert broker.sent == [run.pk, run.pk]
    assert only_row().dispatches == 2


def test_a_run_a_worker_started_is_never_resent_or_abandoned(step, broker) -> None:
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    step(now=tick_now)
    run = only_row()
    TaskRun.objects.filter(pk=run.pk).update(
        status=Status.RUNNING, heartbeat_at=timezone.now(), started_at=timezone.now()
    )
    age(run.pk, TIMEOUT * 3)
    step(now=tick_now + timedelta(seconds=1))
    run.refresh_from_db()
    assert run.status == Status.RUNNING
    assert broker.sent == [run.pk]


def test_an_exclusive_task_running_elsewhere_records_its_tick_skipped_and_sends_nothing(
    step, broker
) -> None:
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    other = TaskRun.objects.create(
        task="job",
        scheduled_for=tick_now - timedelta(minutes=5, microseconds=1),
        on_tick=False,
        trigger=Trigger.MANUAL,
        status=Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    claimed = step(now=tick_now)
    assert [c.result for c in claimed] == [ClaimResult.SKIPPED]
    skipped = only_row(status=Status.SKIPPED)
    assert skipped.scheduled_for == tick_now - timedelta(seconds=1)
    assert broker.sent == []
    assert TaskRun.objects.get(pk=other.pk).status == Status.RUNNING


def test_a_request_is_claimed_for_celery_and_a_fork_engine_leaves_it_alone(step, broker):
    run = request_run("free", ["--deploy"], requested_by="ops")
    claimed = step(only="free", now=timezone.now())
    assert [c.result for c in claimed if c.decision.run_id == run.pk] == [ClaimResult.STARTED]
    run.refresh_from_db()
    assert (run.status, run.executor, run.args) == ("queued", "celery", ["--deploy"])
    assert run.pk in broker.sent
    # A clock still on fork (mid-switch) does not take a run handed to the workers.
    fork_engine = Engine(Trigger.CLOCK, get_tasks(), only=["free"], executor=ForkExecutor())
    assert [d.action for d in fork_engine.plan(timezone.now()) if d.run_id] == []


def test_a_request_for_a_running_exclusive_task_waits_unclaimed(step, broker) -> None:
    TaskRun.objects.create(
        task="job",
        scheduled_for=timezone.now() - timedelta(minutes=5, microseconds=1),
        on_tick=False,
        trigger=Trigger.MANUAL,
        status=Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    run = request_run("job")
    claimed = step(now=timezone.now().replace(second=30))
    assert ClaimResult.WAITING in [c.result for c in claimed]
    run.refresh_from_db()
    assert (run.status, run.executor) == ("queued", "")
    assert run.pk not in broker.sent


def test_after_a_switch_back_to_fork_handed_on_runs_still_end_in_a_record(step) -> None:
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    step(now=tick_now)
    run = only_row()
    fork_engine = Engine(Trigger.CLOCK, get_tasks(), only=["job"], executor=ForkExecutor())
    # A clock on celery would send it again after the timeout: a fork clock leaves it to it...
    age(run.pk, TIMEOUT + 1)
    fork_engine.executor.tend()
    assert only_row().status == Status.QUEUED
    # ...and gives up only when no celery clock did, after twice the timeout.
    age(run.pk, 2 * TIMEOUT + 1)
    fork_engine.executor.tend()
    run.refresh_from_db()
    assert run.status == Status.ABANDONED
    assert "no worker started it" in run.error


def test_a_run_a_stopping_worker_handed_back_is_sent_again_at_the_next_step(step, broker):
    tick_now = timezone.now().replace(second=0, microsecond=0) + timedelta(seconds=1)
    step(now=tick_now)
    run = only_row()
    # What execute_run does when its worker is shutting down.
    TaskRun.objects.filter(pk=run.pk).update(dispatched_at=None)
    step(now=tick_now + timedelta(seconds=1))
    run.refresh_from_db()
    assert broker.sent == [run.pk, run.pk]
    assert (run.status, run.dispatches) == ("queued", 2)
    assert run.dispatched_at is not None


# -- the worker's side: winning queued -> running --------------------------------------


def handed(task: str = "job", on_tick: bool = True, **fields: Any) -> TaskRun:
    when = timezone.now().replace(microsecond=0)
    return TaskRun.objects.create(
        task=task,
        scheduled_for=when if on_tick else when + timedelta(microseconds=7),
        on_tick=on_tick,
        trigger=Trigger.CLOCK if on_tick else Trigger.ADMIN,
        status=Status.QUEUED,
        executor="celery",
        dispatched_at=timezone.now(),
        dispatches=1,
        **fields,
    )


def test_the_worker_wins_a_handed_on_run_once() -> None:
    from core.scheduling.worker import claim

    run = handed()
    won = claim(run.pk)
    assert won is not None
    assert won[1].name == "job"
    row = TaskRun.objects.get(pk=run.pk)
    assert row.status == Status.RUNNING
    assert row.heartbeat_at is not None  # the lease starts with the claim
    # The same message again, a late one, a replayed one: nothing.
    assert claim(run.pk) is None
    TaskRun.objects.filter(pk=run.pk).update(status=Status.SUCCEEDED)
    assert claim(run.pk) is None
    assert TaskRun.objects.get(pk=run.pk).status == Status.SUCCEEDED


def test_the_worker_ignores_runs_not_handed_to_it_and_unknown_ids() -> None:
    from core.scheduling.worker import claim

    waiting = request_run("job")  # queued for a clock, not for the workers
    assert claim(waiting.pk) is None
    assert claim(999_999) is None
    assert TaskRun.objects.get(pk=waiting.pk).status == Status.QUEUED


def test_a_tick_that_finds_its_exclusive_task_running_is_skipped_and_a_request_waits() -> None:
    from core.scheduling.worker import claim

    TaskRun.objects.create(
        task="job",
        scheduled_for=timezone.now() - timedelta(hours=1, microseconds=3),
        on_tick=False,
        trigger=Trigger.MANUAL,
        status=Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    tick = handed()
    request = handed(on_tick=False)
    assert claim(tick.pk) is None
    assert claim(request.pk) is None
    tick.refresh_from_db()
    request.refresh_from_db()
    assert tick.status == Status.SKIPPED
    assert tick.error == "the previous run was still running (overlap='forbid')"
    # Back to the clocks, which claim it again once the task is free.
    assert (request.status, request.executor, request.dispatched_at) == ("queued", "", None)


def test_a_run_of_a_task_this_worker_does_not_declare_fails_saying_so() -> None:
    from core.scheduling.worker import claim

    run = handed(task="gone")
    assert claim(run.pk) is None
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "not declared in this worker's SCHEDULED_TASKS" in run.error


def test_a_run_a_fast_worker_finished_before_the_send_was_counted_keeps_its_own_error(
    broker,
) -> None:
    from core.scheduling.executors import dispatch

    run = handed()

    def publish_and_a_fast_worker_skips_it(run_id: int) -> str | None:
        # The worker takes the message and records the run before the
        # sender's bookkeeping UPDATE runs.
        TaskRun.objects.filter(pk=run_id).update(
            status=Status.SKIPPED, error="the previous run was still running (overlap='forbid')"
        )
        return None

    assert dispatch.send(run.pk, publish_and_a_fast_worker_skips_it) is None
    run.refresh_from_db()
    assert run.status == Status.SKIPPED
    assert run.error == "the previous run was still running (overlap='forbid')"
    assert run.dispatches == 2
