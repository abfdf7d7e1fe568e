"""A run asked for by hand — a direct ``manage.py`` run, ``runtasks --force`` — is
never taken for a tick: it does not hide, replace or move any tick of its task,
and the engine and ``tasks --check`` agree on what a tick is.

The review's reproduction: a task ``check`` every 20 s (deadline 5 s); at T0+30,
after the T0+20 tick passed unrun, ``DYNO=scheduler.7 python manage.py check``;
the next ``runtasks`` never recorded T0+20 at all, not even as ``missed``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import override_settings

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import parse_task
from core.scheduling.engine import Action, Engine
from core.scheduling.state import ensure_task_rows
from core.scheduling.status import task_statuses
from tests.processes import Processes, record_task

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
EVERY_20 = {"command": "check", "every": 20, "starting_deadline": 5}


def spec():
    return parse_task("job", EVERY_20, "UTC")


def tick_row(tick: datetime, status: str = Status.SUCCEEDED) -> TaskRun:
    return TaskRun.objects.create(
        task="job",
        scheduled_for=tick,
        trigger=Trigger.CLOCK,
        status=status,
        started_at=tick,
        finished_at=tick + timedelta(seconds=1),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("trigger", [Trigger.SCHEDULER, Trigger.MANUAL])
def test_a_forced_run_after_a_passed_tick_leaves_that_tick_to_be_caught_up(trigger) -> None:
    tick_row(T0)
    engine = Engine(Trigger.SCHEDULER, {"job": spec()})
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        forced = engine.claim_force(spec(), trigger)
    assert forced.run is not None
    forced.run.refresh_from_db()
    assert forced.run.on_tick is False
    assert forced.run.scheduled_for.microsecond != 0  # never a tick's whole second
    TaskRun.objects.filter(pk=forced.run.pk).update(status=Status.SUCCEEDED)

    # The passed tick is still the task's newest: catchup="latest" runs it once.
    decisions = engine.plan(T0 + timedelta(seconds=31))
    assert [(d.action, d.tick) for d in decisions] == [(Action.CATCHUP, T0 + timedelta(seconds=20))]
    # With catchup="none" it is recorded missed: either way it is not hidden.
    none = parse_task("job", {**EVERY_20, "catchup": "none"}, "UTC")
    decisions = Engine(Trigger.SCHEDULER, {"job": none}).plan(T0 + timedelta(seconds=31))
    assert [(d.action, d.tick) for d in decisions] == [(Action.MISSED, T0 + timedelta(seconds=20))]


@pytest.mark.django_db
def test_a_forced_run_at_the_instant_of_a_tick_does_not_take_the_ticks_key() -> None:
    tick_row(T0)
    engine = Engine(Trigger.SCHEDULER, {"job": spec()})
    at_tick = T0 + timedelta(seconds=20)
    with time_machine.travel(at_tick, tick=False):
        forced = engine.claim_force(spec(), Trigger.SCHEDULER)
        assert forced.run is not None
        TaskRun.objects.filter(pk=forced.run.pk).update(status=Status.SUCCEEDED)
        claimed = engine.claim_tick(spec(), at_tick, 1, Trigger.SCHEDULER)
    # The tick itself is still free to be claimed and run.
    assert claimed.result == "started"
    assert TaskRun.objects.filter(scheduled_for=at_tick, on_tick=True).count() == 1


@pytest.mark.django_db
def test_tasks_check_counts_only_ticks_like_the_engine() -> None:
    """A task with only manual runs has no tick yet: the engine records nothing
    before its first tick, so ``tasks --check`` must not call it overdue."""
    specs = {"job": parse_task("job", {"command": "check", "schedule": "0 * * * *"}, "UTC")}
    ensure_task_rows(specs)
    now = T0 + timedelta(hours=5, minutes=30)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        engine = Engine(Trigger.MANUAL, specs)
        forced = engine.claim_force(specs["job"], Trigger.MANUAL)
        assert forced.run is not None
        TaskRun.objects.filter(pk=forced.run.pk).update(
            status=Status.SUCCEEDED, finished_at=T0 + timedelta(minutes=11)
        )
    with time_machine.travel(now, tick=False), override_settings(SCHEDULED_TASKS={}):
        (status,) = task_statuses(specs)
        # The engine agrees: it runs the tick still inside its deadline and
        # records nothing for the ticks before (the manual run is no tick).
        decisions = Engine(Trigger.CLOCK, specs).plan(now)
    assert not status.overdue, status.problems
    assert [(d.action, d.tick) for d in decisions] == [(Action.RUN, T0 + timedelta(hours=5))]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_direct_run_in_a_scheduler_dyno_hides_no_tick(
    processes: Processes, records_file: Path
) -> None:
    entry = record_task(records_file, every=20, starting_deadline=5)
    tasks = {"rec": entry}
    # Wait until we are between 6 and 15 s past a tick, then seed the tick
    # before the one that just passed unrun.
    while not 6 <= time.time() % 20 <= 15:
        time.sleep(0.2)
    passed = datetime.fromtimestamp(time.time() // 20 * 20, tz=UTC)
    TaskRun.objects.create(
        task="rec",
        scheduled_for=passed - timedelta(seconds=20),
        trigger=Trigger.CLOCK,
        status=Status.SUCCEEDED,
        finished_at=passed - timedelta(seconds=19),
    )
    code, output = processes.manage(["record_run", *entry["args"]], tasks, DYNO="scheduler.7")
    assert code == 0, output
    direct = TaskRun.objects.get(trigger=Trigger.SCHEDULER)
    assert direct.on_tick is False

    code, output = processes.manage(["runtasks"], tasks)
    assert code == 0, output
    # The passed tick is recorded (and, as the newest overdue one, caught up).
    passed_row = TaskRun.objects.get(task="rec", scheduled_for=passed)
    assert (passed_row.status, passed_row.trigger) == (Status.SUCCEEDED, Trigger.SCHEDULER)
    assert passed_row.on_tick is True
