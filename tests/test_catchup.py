"""Guarantee 3 at the engine level (``Engine.plan``/``step`` under time-machine):
after downtime, ticks are recorded ``missed`` and caught up as ``catchup`` says,
inside the catch-up window and cap. Plus the claims themselves (guarantees 1, 2).

Steps that start runs fork real children (running Django's ``check``), so those
tests are transactional.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db.models.functions import Now
from django.test import override_settings
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import TaskSpec, parse_task
from core.scheduling.engine import Claimed, Engine
from core.scheduling.runner import Outcome, Supervisor

# A minute-aligned instant in the future, so heartbeats written at travelled
# time never look stale to the database's real clock.
T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def spec(**entry: Any) -> TaskSpec:
    return parse_task("job", {"command": "check", "every": 60, **entry}, "UTC")


def seed(tick: datetime = T0) -> TaskRun:
    """The last run before the clock went down."""
    return TaskRun.objects.create(
        task="job",
        scheduled_for=tick,
        trigger=Trigger.CLOCK,
        status=Status.SUCCEEDED,
        started_at=tick,
        finished_at=tick + timedelta(seconds=1),
    )


def rows() -> list[tuple[datetime, str]]:
    return list(
        TaskRun.objects.filter(task="job")
        .order_by("scheduled_for", "attempt")
        .values_list("scheduled_for", "status")
    )


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with override_settings(SCHEDULED_TASKS_HEARTBEAT=0.5):
        sup = Supervisor()
    sup.install_wakeup()
    try:
        yield sup
    finally:
        sup.interrupt_all(0, sig=9)
        sup.run_to_end(time.monotonic() + 10)
        sup.close()


def step_at(engine: Engine, supervisor: Supervisor, when: datetime) -> list[Claimed]:
    """One step at ``when``, then wait for the runs it started to end."""
    with time_machine.travel(when, tick=True):
        claimed = engine.step(supervisor)
        supervisor.run_to_end(time.monotonic() + 30)
    assert not supervisor.children
    return claimed


@pytest.mark.django_db(transaction=True)
def test_after_downtime_latest_records_missed_ticks_and_runs_the_newest_once(
    supervisor: Supervisor,
) -> None:
    seed()
    engine = Engine(Trigger.CLOCK, {"job": spec(starting_deadline=10)})
    now = T0 + 5 * MINUTE + timedelta(seconds=30)  # down for ticks 1-5; tick 5 is 30 s late
    decisions = engine.plan(now)
    assert [(d.action, d.tick) for d in decisions] == [
        *[("missed", T0 + i * MINUTE) for i in range(1, 5)],
        ("catchup", T0 + 5 * MINUTE),
    ]
    step_at(engine, supervisor, now)
    assert rows() == [
        (T0, Status.SUCCEEDED),
        *[(T0 + i * MINUTE, Status.MISSED) for i in range(1, 5)],
        (T0 + 5 * MINUTE, Status.SUCCEEDED),
    ]
    # Stepping again before the next tick changes nothing: it ran once.
    assert step_at(engine, supervisor, now + timedelta(seconds=5)) == []
    assert len(rows()) == 6


@pytest.mark.django_db(transaction=True)
def test_after_downtime_all_runs_every_tick_one_at_a_time_oldest_first(
    supervisor: Supervisor,
) -> None:
    seed()
    engine = Engine(Trigger.CLOCK, {"job": spec(starting_deadline=10, catchup="all")})
    now = T0 + 5 * MINUTE + timedelta(seconds=30)
    for i in range(1, 6):
        claimed = step_at(engine, supervisor, now + timedelta(seconds=i))
        # A forbid task: one tick per step, the oldest first.
        assert [(c.decision.tick, c.result) for c in claimed] == [(T0 + i * MINUTE, "started")]
    assert rows() == [(T0 + i * MINUTE, Status.SUCCEEDED) for i in range(6)]
    assert step_at(engine, supervisor, now + timedelta(seconds=10)) == []


@pytest.mark.django_db
def test_after_downtime_all_with_overlap_allowed_plans_every_tick_at_once() -> None:
    seed()
    engine = Engine(
        Trigger.CLOCK, {"job": spec(starting_deadline=10, catchup="all", overlap="allow")}
    )
    decisions = engine.plan(T0 + 3 * MINUTE + timedelta(seconds=30))
    assert [(d.action, d.tick) for d in decisions] == [
        ("catchup", T0 + i * MINUTE) for i in range(1, 4)
    ]


@pytest.mark.django_db(transaction=True)
def test_after_downtime_none_records_every_tick_missed_and_runs_nothing(
    supervisor: Supervisor,
) -> None:
    seed()
    engine = Engine(Trigger.CLOCK, {"job": spec(starting_deadline=10, catchup="none")})
    claimed = step_at(engine, supervisor, T0 + 5 * MINUTE + timedelta(seconds=30))
    assert claimed == []
    assert rows() == [
        (T0, Status.SUCCEEDED),
        *[(T0 + i * MINUTE, Status.MISSED) for i in range(1, 6)],
    ]
    missed = TaskRun.objects.filter(status=Status.MISSED).first()
    assert missed is not None
    assert "starting deadline (10 s)" in missed.error


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("catchup", "late", "action"),
    [
        ("latest", 5, "run"),  # inside the 10 s deadline: an ordinary run
        ("latest", 15, "catchup"),
        ("none", 5, "run"),
        ("none", 15, "missed"),
    ],
)
def test_the_starting_deadline_decides_whether_a_late_tick_still_runs(
    catchup: str, late: int, action: str
) -> None:
    seed()
    engine = Engine(Trigger.CLOCK, {"job": spec(starting_deadline=10, catchup=catchup)})
    decisions = engine.plan(T0 + MINUTE + timedelta(seconds=late))
    assert [(d.action, d.tick) for d in decisions] == [(action, T0 + MINUTE)]


@pytest.mark.django_db
def test_the_default_starting_deadline_is_one_period() -> None:
    seed()
    engine = Engine(Trigger.CLOCK, {"job": spec(catchup="none")})
    decisions = engine.plan(T0 + 2 * MINUTE + timedelta(seconds=59))
    assert [(d.action, d.tick) for d in decisions] == [
        ("missed", T0 + MINUTE),
        ("run", T0 + 2 * MINUTE),
    ]


@pytest.mark.django_db
def test_a_task_never_run_before_does_not_catch_up_its_history() -> None:
    engine = Engine(Trigger.CLOCK, {"job": spec(catchup="all")})
    decisions = engine.plan(T0 + timedelta(seconds=20))
    assert [(d.action, d.tick) for d in decisions] == [("run", T0)]


@pytest.mark.django_db(transaction=True)
@override_settings(SCHEDULED_TASKS_CATCHUP_WINDOW=600)
def test_ticks_older_than_the_catchup_window_are_not_recorded(supervisor: Supervisor) -> None:
    seed()
    engine = Engine(Trigger.CLOCK, {"job": spec()})
    now = T0 + 60 * MINUTE + timedelta(seconds=30)  # down for an hour
    step_at(engine, supervisor, now)
    recorded = rows()
    # Only the ticks inside the last 600 s: 9 missed and the newest run.
    assert recorded == [
        (T0, Status.SUCCEEDED),
        *[(T0 + i * MINUTE, Status.MISSED) for i in range(51, 60)],
        (T0 + 60 * MINUTE, Status.SUCCEEDED),
    ]


@pytest.mark.django_db
@override_settings(SCHEDULED_TASKS_MAX_CATCHUP_TICKS=3)
def test_at_most_max_catchup_ticks_are_considered() -> None:
    seed()
    engine = Engine(Trigger.CLOCK, {"job": spec()})
    decisions = engine.plan(T0 + 60 * MINUTE + timedelta(seconds=30))
    assert [(d.action, d.tick) for d in decisions] == [
        ("missed", T0 + 58 * MINUTE),
        ("missed", T0 + 59 * MINUTE),
        ("run", T0 + 60 * MINUTE),
    ]


# --- Claims -------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_engines_claiming_the_same_tick_one_wins() -> None:
    job = spec()
    first = Engine(Trigger.CLOCK, {"job": job}).claim_tick(job, T0, 1, Trigger.CLOCK)
    second = Engine(Trigger.SCHEDULER, {"job": job}).claim_tick(job, T0, 1, Trigger.SCHEDULER)
    assert (first.result, second.result) == ("started", "lost")
    assert second.run is None
    assert TaskRun.objects.get().trigger == Trigger.CLOCK


@pytest.mark.django_db
def test_a_second_running_claim_of_a_forbid_task_is_recorded_skipped() -> None:
    job = spec()
    engine = Engine(Trigger.CLOCK, {"job": job})
    assert engine.claim_tick(job, T0, 1, Trigger.CLOCK).result == "started"
    claimed = Engine(Trigger.CLOCK, {"job": job}).claim_tick(job, T0 + MINUTE, 1, Trigger.CLOCK)
    assert claimed.result == "skipped"
    assert rows() == [(T0, Status.RUNNING), (T0 + MINUTE, Status.SKIPPED)]


@pytest.mark.django_db
def test_an_allow_task_may_have_two_running_claims() -> None:
    job = spec(overlap="allow")
    engine = Engine(Trigger.CLOCK, {"job": job})
    assert engine.claim_tick(job, T0, 1, Trigger.CLOCK).result == "started"
    assert engine.claim_tick(job, T0 + MINUTE, 1, Trigger.CLOCK).result == "started"
    assert TaskRun.objects.running().count() == 2


@pytest.mark.django_db
def test_an_admin_request_is_claimed_by_exactly_one_engine() -> None:
    job = spec()
    request = TaskRun.objects.create(
        task="job",
        scheduled_for=timezone.now(),
        trigger=Trigger.ADMIN,
        status=Status.QUEUED,
    )
    engines = [Engine(Trigger.CLOCK, {"job": job}) for _ in range(2)]
    decisions = [e.plan() for e in engines]
    request_decisions = [next(d for d in ds if d.action == "request") for ds in decisions]
    results = [e.claim_request(d) for e, d in zip(engines, request_decisions, strict=True)]
    assert [r.result for r in results] == ["started", "lost"]
    request.refresh_from_db()
    assert request.status == Status.RUNNING


@pytest.mark.django_db
def test_a_run_whose_heartbeat_stopped_is_reaped_once_and_a_fresh_one_is_not() -> None:
    job = spec(overlap="allow")
    engine = Engine(Trigger.CLOCK, {"job": job})
    stale = engine.claim_tick(job, T0, 1, Trigger.CLOCK).run
    fresh = engine.claim_tick(job, T0 + MINUTE, 1, Trigger.CLOCK).run
    assert stale is not None
    assert fresh is not None
    # Heartbeats are written with the database's clock, as the supervisor does.
    TaskRun.objects.filter(pk=stale.pk).update(heartbeat_at=Now())
    time.sleep(0.7)
    TaskRun.objects.filter(pk=fresh.pk).update(heartbeat_at=Now())
    with override_settings(SCHEDULED_TASKS_STALE_AFTER=0.5):
        assert engine.reap_stale() == [stale.pk]
        assert engine.reap_stale() == []
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Status.ABANDONED
    assert "no heartbeat since" in stale.error
    assert fresh.status == Status.RUNNING


@pytest.mark.django_db
def test_a_run_whose_outcome_waits_in_memory_is_not_reaped_by_its_own_clock() -> None:
    # A run that ended while the database was down: its child is gone, its
    # outcome waits in the supervisor, and its heartbeat stopped long ago.
    job = parse_task("job", {"command": "check", "schedule": "0 0 1 1 *"}, "UTC")
    engine = Engine(Trigger.CLOCK, {"job": job})
    run = engine.claim_tick(job, T0, 1, Trigger.CLOCK).run
    assert run is not None
    TaskRun.objects.filter(pk=run.pk).update(heartbeat_at=Now())
    time.sleep(0.7)
    with override_settings(SCHEDULED_TASKS_STALE_AFTER=0.5):
        sup = Supervisor()
        try:
            sup.unrecorded.append(Outcome(run.pk, "job", Status.SUCCEEDED, 0, 1.0))
            engine.step(sup)
            run.refresh_from_db()
            assert run.status == Status.RUNNING  # not reaped as abandoned
            sup.tend()  # the database is back: the outcome is written
        finally:
            sup.close()
    run.refresh_from_db()
    assert (run.status, run.exit_code) == (Status.SUCCEEDED, 0)
    assert not sup.unrecorded
