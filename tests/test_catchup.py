"""Guarantee 3 at the engine level (``Engine.plan``/``step`` under time-machine):
after downtime, ticks are recorded ``missed`` and caught up as ``catchup`` says,
inside the catch-up window and cap. Plus the claims themselves (guarantees 1, 2),
raced by threads that each have their own database connection.

Steps that start runs fork real children (running Django's ``check``), so those
tests are transactional.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import pytest
import time_machine
from django.db import connection
from django.db.models.functions import Now
from django.test import override_settings
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from core.scheduling.config import TaskSpec, parse_task
from core.scheduling.engine import Claimed, Decision, Engine
from core.scheduling.runs import Outcome
from core.scheduling.supervisor import Supervisor

# A minute-aligned instant in the future, so heartbeats written at travelled
# time never look stale to the database's real clock.
T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
T = TypeVar("T")


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
def supervisor(make_supervisor) -> Supervisor:
    return make_supervisor(heartbeat=0.5, wakeup=True)


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


# Real races: THREADS threads, each with its own database connection, released
# together by a barrier for each of ROUNDS rounds. On PostgreSQL the statements
# truly interleave; on SQLite the write lock (BEGIN IMMEDIATE, 30 s timeout)
# queues them, and the outcome must be the same.
THREADS = 4
ROUNDS = 25


@dataclass
class Attempt(Generic[T]):
    result: T
    began: float
    ended: float


def race(
    attempt: Callable[[int, int], T],
    *,
    prepare: Callable[[int, int], None] | None = None,
    between: Callable[[int], None] | None = None,
) -> list[list[Attempt[T]]]:
    """``attempt(round, thread)`` in THREADS threads at once, ROUNDS times; the attempts per round.

    ``prepare(round, thread)`` runs in each thread before it waits for the
    others; ``between(round)`` runs alone after each round, before the next.
    """
    done = 0

    def after_round() -> None:
        nonlocal done
        if between is not None:
            between(done)
        done += 1

    start = threading.Barrier(THREADS, timeout=60)
    end = threading.Barrier(THREADS, action=after_round, timeout=60)
    attempts: list[list[Attempt[T] | None]] = [[None] * THREADS for _ in range(ROUNDS)]
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            connection.ensure_connection()  # connecting is not part of the race
            for round_ in range(ROUNDS):
                if prepare is not None:
                    prepare(round_, thread)
                start.wait()
                began = time.perf_counter()
                result = attempt(round_, thread)
                attempts[round_][thread] = Attempt(result, began, time.perf_counter())
                end.wait()
        except threading.BrokenBarrierError:
            pass  # another thread failed: its error is reported
        except BaseException as exc:
            errors.append(exc)
            start.abort()
            end.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    if errors:
        raise errors[0]
    complete = [[a for a in round_ if a is not None] for round_ in attempts]
    assert all(len(round_) == THREADS for round_ in complete)
    # The race did happen: on PostgreSQL two attempts were under way at once in
    # many rounds and all of them in most; SQLite serialises writers on its file
    # lock and a thread is often through before the next has woken (measured
    # 3-25 rounds of 25 with an overlap), so there at least one round must have
    # raced.
    first_end = [min(a.ended for a in r) for r in complete]
    began = [sorted(a.began for a in r) for r in complete]
    two = sum(b[1] < e for b, e in zip(began, first_end, strict=True))
    least = ROUNDS // 5 if connection.vendor == "postgresql" else 1
    assert two >= least, f"two attempts overlapped in only {two} of {ROUNDS} rounds"
    if connection.vendor == "postgresql":
        every = sum(b[-1] < e for b, e in zip(began, first_end, strict=True))
        assert every > ROUNDS // 2, f"all attempts overlapped in only {every} of {ROUNDS} rounds"
    return complete


def finish_running_runs(round_: int) -> None:
    """Between rounds: the round's winner ends, so the task is free again."""
    TaskRun.objects.filter(task="job", status=Status.RUNNING).update(status=Status.SUCCEEDED)


@pytest.mark.django_db(transaction=True)
def test_engines_claiming_the_same_tick_at_once_exactly_one_wins() -> None:
    job = spec()
    triggers = [Trigger.CLOCK, Trigger.SCHEDULER] * (THREADS // 2)
    engines = [Engine(trigger, {"job": job}) for trigger in triggers]

    def claim(round_: int, thread: int) -> Claimed:
        return engines[thread].claim_tick(job, T0 + round_ * MINUTE, 1, triggers[thread])

    rounds = race(claim, between=finish_running_runs)
    for round_, attempts in enumerate(rounds):
        results = Counter(a.result.result for a in attempts)
        assert results == {"started": 1, "lost": THREADS - 1}, (round_, results)
        winner = next(i for i, a in enumerate(attempts) if a.result.run is not None)
        won = attempts[winner].result.run
        assert won is not None
        row = TaskRun.objects.get(task="job", scheduled_for=T0 + round_ * MINUTE)
        assert (row.pk, row.trigger) == (won.pk, triggers[winner])
    assert TaskRun.objects.count() == ROUNDS  # one row per tick, nothing else


@pytest.mark.django_db(transaction=True)
def test_claims_of_different_ticks_of_a_forbid_task_at_once_start_one_and_skip_the_rest() -> None:
    job = spec()
    engines = [Engine(Trigger.CLOCK, {"job": job}) for _ in range(THREADS)]

    def tick(round_: int, thread: int) -> datetime:
        return T0 + (round_ * THREADS + thread) * MINUTE

    def claim(round_: int, thread: int) -> Claimed:
        return engines[thread].claim_tick(job, tick(round_, thread), 1, Trigger.CLOCK)

    rounds = race(claim, between=finish_running_runs)
    for round_, attempts in enumerate(rounds):
        results = [a.result.result for a in attempts]
        assert sorted(results) == ["skipped"] * (THREADS - 1) + ["started"], (round_, results)
        # Every tick is recorded: the winner's ran, the others' skipped.
        statuses = [
            TaskRun.objects.get(task="job", scheduled_for=tick(round_, thread)).status
            for thread in range(THREADS)
        ]
        expected = [Status.SUCCEEDED if r == "started" else Status.SKIPPED for r in results]
        assert statuses == expected, (round_, statuses)
    assert TaskRun.objects.count() == ROUNDS * THREADS


@pytest.mark.django_db(transaction=True)
def test_engines_claiming_one_admin_request_at_once_exactly_one_wins() -> None:
    job = spec()
    engines = [Engine(Trigger.CLOCK, {"job": job}) for _ in range(THREADS)]
    requests: list[TaskRun] = []

    def queue_request(round_: int | None = None) -> None:
        if round_ is not None:
            finish_running_runs(round_)
        requests.append(
            TaskRun.objects.create(
                task="job",
                scheduled_for=timezone.now(),
                on_tick=False,
                trigger=Trigger.ADMIN,
                status=Status.QUEUED,
            )
        )

    planned: dict[int, Decision] = {}

    def plan(round_: int, thread: int) -> None:
        # Every engine reads the request as queued before any claims it.
        decisions = engines[thread].plan()
        planned[thread] = next(d for d in decisions if d.action == "request")
        assert planned[thread].run_id == requests[round_].pk

    def claim(round_: int, thread: int) -> Claimed:
        return engines[thread].claim_request(planned[thread])

    queue_request()
    rounds = race(claim, prepare=plan, between=queue_request)
    for round_, attempts in enumerate(rounds):
        results = Counter(a.result.result for a in attempts)
        assert results == {"started": 1, "lost": THREADS - 1}, (round_, results)
        requests[round_].refresh_from_db()
        assert requests[round_].status == Status.SUCCEEDED  # ran (was running), once
    # Every round's request, plus the one queued after the last round.
    assert TaskRun.objects.count() == ROUNDS + 1


@pytest.mark.django_db
def test_an_allow_task_may_have_two_running_claims() -> None:
    job = spec(overlap="allow")
    engine = Engine(Trigger.CLOCK, {"job": job})
    assert engine.claim_tick(job, T0, 1, Trigger.CLOCK).result == "started"
    assert engine.claim_tick(job, T0 + MINUTE, 1, Trigger.CLOCK).result == "started"
    assert TaskRun.objects.running().count() == 2


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
