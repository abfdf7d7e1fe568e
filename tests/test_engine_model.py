"""A stateful model of ``Engine.step`` (hypothesis ``RuleBasedStateMachine``).

Two or three engines — each with its own supervisor, as separate clocks and
Scheduler dynos would be, each optionally a few seconds off — share one
database and three tasks: a minutely ``overlap="forbid"`` task, a two-minutely
``overlap="allow"`` task with a 300 s starting deadline (so a late step starts
several of its ticks at once), and a daily cron task in America/New_York whose
run falls next to a DST change (``30 1 * * *`` on the autumn day the clocks go
back, ``30 2 * * *`` on the spring day they skip 02:00-03:00). Each example
draws ``catchup`` (latest/all/none) and ``retries`` (0/1) for every task.

Time is travelled with time_machine. The rules: an engine steps at the current
instant (sometimes with a database error injected at its k-th SQL statement,
``tests.db_faults.FailingStatement``); time jumps forward (seconds, minutes,
hours — past the catch-up window and the tick cap — or onto the DST change);
two engines race (one runs its whole step between the other's plan and its
claims, so claims are lost and ticks found running are skipped); a run
finishes (succeeded or failed; sometimes with the database down, so the outcome
waits in its supervisor's memory until a later ``tend``) or crashes; a run is
requested as the admin's "run now" does.

**Children are not forked.** ``InMemorySupervisor.start`` records the claimed
run as a child in memory, and the rules finish it through the supervisor's
real ``record`` path or make it vanish. A crash is the child and its
supervisor's memory of it disappearing together (a SIGKILLed dyno): the row
stays ``running`` and its heartbeat is aged in the database, so any engine's
reaper must take it. Process supervision itself — forking, heartbeats, the
lease fence, timeouts, a killed clock — is tested with real processes in
tests/test_clock_kill.py, tests/test_lease.py, tests/test_timeouts_and_retries.py
and tests/test_step_database_errors.py.

After every rule (DESIGN.md, "Guarantees"):

1. no (task, tick, attempt) is started twice (counted in the supervisors);
2. no two live children of a ``forbid`` task, and at most one ``running`` row;
3. no silent gaps: every tick of a task from its first tick row on that is
   inside the catch-up window (newer than the latest step's instant minus
   ``SCHEDULED_TASKS_CATCHUP_WINDOW``, and among the newest
   ``SCHEDULED_TASKS_MAX_CATCHUP_TICKS`` ticks) has a row when either it is not
   newer than the task's latest tick row (no holes), or — except for
   ``catchup="all"`` with ``overlap="forbid"``, which takes one tick per step on
   purpose — it was past its starting deadline at the latest clean step
   (a step that raised nothing);
4. every ``running`` row belongs to a live child, an outcome waiting in memory,
   or a crashed run awaiting the reaper, and every live child's row is
   ``running``; after a clean step no crashed run is left ``running``;
5. a failed tick with a retry left is retried once its delay has passed
   (unless a newer tick is due);
6. every tick row falls on a tick of its schedule as computed here,
   independently of ``TaskSpec`` (epoch multiples; one local 01:30 / 02:30-or-
   03:00 a day);
7. after a clean step, ``engine.next_wakeup(now) > now``.

The required ticks of 3 follow from the engine's contract alone: a tick is
left without a row only while it is inside its starting deadline, or when it
fell out of the window or the cap before any step could see it; ticks are
never recorded out of order within a task.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import DatabaseError, connection, connections
from django.db.models import Max, Min
from django.test import override_settings
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.models import FAILURES, Status, Task, TaskRun, Trigger
from core.scheduling.config import TaskSpec, parse_task
from core.scheduling.control import request_run
from core.scheduling.engine import Decision, Engine
from core.scheduling.mailer import BackgroundMail
from core.scheduling.notify import Mail
from core.scheduling.runs import Outcome
from core.scheduling.supervisor import Child, Supervisor
from tests.db_faults import FailingStatement

NY = ZoneInfo("America/New_York")
# New York falls back at 06:00Z on 2030-11-03 (01:30 happens twice: 05:30Z and
# 06:30Z) and springs forward at 07:00Z on 2030-03-10 (02:30 never happens).
AUTUMN_CHANGE = datetime(2030, 11, 3, 6, 0, tzinfo=UTC)
SPRING_CHANGE = datetime(2030, 3, 10, 7, 0, tzinfo=UTC)
CRON_FOR = {AUTUMN_CHANGE: "30 1 * * *", SPRING_CHANGE: "30 2 * * *"}
WINDOW = 4 * 3600  # SCHEDULED_TASKS_CATCHUP_WINDOW for the model
CAP = 100  # SCHEDULED_TASKS_MAX_CATCHUP_TICKS for the model
RETRY_DELAY = 30
# Live runs are never heartbeated here: their claim's heartbeat must stay fresh
# for the whole test. Crashed runs are aged far past it instead.
STALE_AFTER = 3600
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FAULT_STATEMENT = 30  # a step takes about 5-40 statements


# What the examples did, for the report at the end of the test (and hypothesis' statistics).
STATS: Counter[str] = Counter()


def seen(what: str) -> None:
    event(what)
    STATS[what] += 1


# --- the schedules, computed independently of TaskSpec ---------------------------------


def _exists(wall: datetime, tz: ZoneInfo) -> bool:
    instant = wall.replace(tzinfo=tz).astimezone(UTC)
    return instant.astimezone(tz).replace(tzinfo=None) == wall


def daily_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Debian cron's one run of a fixed-time daily job on local ``day``: the first
    occurrence of a repeated time, the first minute after a skipped one."""
    wall = datetime.combine(day, at)
    while not _exists(wall, tz):
        wall += timedelta(minutes=1)
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    every: int | None = None
    daily_at: time | None = None
    tz: ZoneInfo = NY

    def ticks(self, after: datetime, until: datetime) -> list[datetime]:
        """Ticks ``t`` with ``after < t <= until``."""
        if self.every is not None:
            n = self.every
            first = int(after.timestamp()) // n * n + n
            last = int(until.timestamp()) // n * n
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            return [epoch + timedelta(seconds=s) for s in range(first, last + 1, n)]
        assert self.daily_at is not None
        day = after.astimezone(self.tz).date() - timedelta(days=1)
        end = until.astimezone(self.tz).date() + timedelta(days=1)
        out = []
        while day <= end:
            tick = daily_instant(day, self.daily_at, self.tz)
            if after < tick <= until:
                out.append(tick)
            day += timedelta(days=1)
        return out

    def period_after(self, tick: datetime) -> float:
        nxt = self.ticks(tick, tick + timedelta(days=3))[0]
        return (nxt - tick).total_seconds()


# --- supervisors that do not fork --------------------------------------------------------


class RecordingMail(BackgroundMail):
    """Notification mail kept in memory instead of being sent from a child."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> None:
        self.sent.append(mail)


@dataclass
class FakeChild:
    run_id: int
    task: str
    tick: datetime
    attempt: int
    supervisor: InMemorySupervisor


class InMemorySupervisor(Supervisor):
    """A supervisor whose ``start`` records the claimed run as a child in memory.

    Everything else (``record``, ``tend``, ``unrecorded``) is the real supervisor's;
    ``own_run_ids`` also answers for the in-memory children, as it does for forked ones.
    """

    def __init__(
        self, name: str, skew: timedelta, starts: list[tuple[str, datetime, int, int]]
    ) -> None:
        super().__init__()
        self.name = name
        self.skew = skew  # its machine's clock minus true time
        self.mailer = RecordingMail()
        self.live: dict[int, FakeChild] = {}
        self.starts = starts  # shared by every supervisor of the model

    def start(
        self,
        run: TaskRun,
        command: Any,
        args: Any = (),
        *,
        timeout: float,
        options: dict[str, Any] | None = None,
    ) -> Child:
        self.starts.append((run.task, run.scheduled_for, run.attempt, run.pk))
        self.live[run.pk] = FakeChild(run.pk, run.task, run.scheduled_for, run.attempt, self)
        return Child(run.pk, run.task, -1, -1, -1, timeout)

    def own_run_ids(self) -> list[int]:
        return [*self.live, *super().own_run_ids()]


@dataclass
class Clock:
    engine: Engine
    supervisor: InMemorySupervisor
    skew: timedelta  # this machine's clock minus true time
    last_clean: datetime | None = None


@dataclass
class TaskModel:
    spec: TaskSpec
    schedule: Schedule
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def one_tick_per_step(self) -> bool:
        return self.spec.catchup == "all" and self.spec.exclusive

    def deadline(self, tick: datetime) -> float:
        if self.spec.starting_deadline is not None:
            return self.spec.starting_deadline
        return min(self.schedule.period_after(tick), 3600.0)


class EngineModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        TaskRun.objects.all().delete()
        Task.objects.all().delete()
        self.clocks: list[Clock] = []
        self.tasks: dict[str, TaskModel] = {}
        self.starts: list[tuple[str, datetime, int, int]] = []
        self.crashed: set[int] = set()
        # Outcomes that could not be written (and whose heartbeat went stale), by run.
        self.waiting: dict[int, tuple[InMemorySupervisor, Outcome]] = {}
        self.reapable: set[int] = set()  # of those, runs another engine has stepped past
        self.now = AUTUMN_CHANGE
        self.change = AUTUMN_CHANGE
        self.max_now: datetime | None = None  # the latest instant any engine stepped at
        self.clean_now: datetime | None = None  # the latest instant of a clean step
        self.checked_up_to = 0  # tick rows up to this pk fall on ticks
        self.steps = self.clean_steps = self.faults = self.requests = 0

    # -- set-up -----------------------------------------------------------------------
    @initialize(
        change=st.sampled_from([AUTUMN_CHANGE, SPRING_CHANGE]),
        before=st.integers(0, 4 * 3600),
        skews=st.lists(st.sampled_from([0, 0, 0, 2, -3]), min_size=2, max_size=3),
        catchups=st.tuples(*[st.sampled_from(["latest", "all", "none"])] * 3),
        retries=st.tuples(*[st.sampled_from([0, 1, 1])] * 3),
        minutely_deadline=st.sampled_from([None, 10]),
    )
    def configure(
        self,
        change: datetime,
        before: int,
        skews: list[int],
        catchups: tuple[str, str, str],
        retries: tuple[int, int, int],
        minutely_deadline: int | None,
    ) -> None:
        self.change = change
        self.now = change - timedelta(seconds=before)
        cron = CRON_FOR[change]
        minute, hour = (int(f) for f in cron.split()[:2])
        entries: dict[str, tuple[dict[str, Any], Schedule]] = {
            "minutely": (
                {"every": 60, "starting_deadline": minutely_deadline},
                Schedule(every=60),
            ),
            "overlapping": (
                {"every": 120, "overlap": "allow", "starting_deadline": 300},
                Schedule(every=120),
            ),
            "nightly": (
                {"schedule": cron, "timezone": "America/New_York"},
                Schedule(daily_at=time(hour, minute), tz=NY),
            ),
        }
        for (name, (entry, schedule)), catchup, retry in zip(
            entries.items(), catchups, retries, strict=True
        ):
            raw = {
                "command": "check",
                "catchup": catchup,
                "retries": retry,
                "retry_delay": RETRY_DELAY,
                **{k: v for k, v in entry.items() if v is not None},
            }
            self.tasks[name] = TaskModel(parse_task(name, raw, "UTC"), schedule, raw)
        specs = {name: task.spec for name, task in self.tasks.items()}
        for i, skew in enumerate(skews):
            trigger = Trigger.CLOCK if i % 2 == 0 else Trigger.SCHEDULER
            off = timedelta(seconds=skew)
            supervisor = InMemorySupervisor(f"engine{i}", off, self.starts)
            self.clocks.append(Clock(Engine(trigger, specs), supervisor, off))

    def teardown(self) -> None:
        for clock in self.clocks:
            clock.supervisor.close()

    # -- helpers ----------------------------------------------------------------------
    def live_children(self) -> list[FakeChild]:
        return [c for clock in self.clocks for c in clock.supervisor.live.values()]

    def running_ids(self) -> set[int]:
        return set(TaskRun.objects.filter(status=Status.RUNNING).values_list("pk", flat=True))

    # -- rules ------------------------------------------------------------------------
    @rule(
        which=st.integers(0, 2),
        fail_at=st.one_of(st.none(), st.none(), st.integers(1, MAX_FAULT_STATEMENT)),
    )
    def step(self, which: int, fail_at: int | None) -> None:
        self.step_clock(self.clocks[which % len(self.clocks)], fail_at)

    @rule(first=st.integers(0, 2), other=st.integers(1, 2))
    def race(self, first: int, other: int) -> None:
        """Two engines step at once: the second runs its whole step between the first
        one's plan (its reads) and its claims (its writes)."""
        slow = self.clocks[first % len(self.clocks)]
        fast = self.clocks[(first + other) % len(self.clocks)]
        if fast is slow:
            fast = self.clocks[(first + 1) % len(self.clocks)]
        engine = slow.engine

        def plan_then_let_the_other_in(now: datetime | None = None) -> list[Decision]:
            del engine.plan  # back to the method
            decisions = engine.plan(now)
            self.step_clock(fast, None)
            return decisions

        engine.plan = plan_then_let_the_other_in  # type: ignore[method-assign]
        try:
            self.step_clock(slow, None)
        finally:
            vars(engine).pop("plan", None)
        seen("race")

    def step_clock(self, clock: Clock, fail_at: int | None) -> None:
        now = self.now + clock.skew
        if self.max_now is not None and (now - self.max_now).total_seconds() > CAP * 60:
            seen("step: after a pause longer than the tick cap of the minutely task")
        self.max_now = max(self.max_now or now, now)
        crashed = len(self.crashed)
        self.steps += 1
        fault = FailingStatement(fail_at)
        # Another engine may reap a run whose outcome waits in this one's memory.
        self.reapable |= {r for r, (sup, _) in self.waiting.items() if sup is not clock.supervisor}
        with time_machine.travel(now, tick=False):
            try:
                with connection.execute_wrapper(fault):
                    claimed = clock.engine.step(clock.supervisor)
            except DatabaseError:
                # Only our injected error may escape a step.
                assert fault.failed_sql is not None
                self.faults += 1
                connections.close_all()  # what the clock does before its next try
                clean = False
            else:
                clean = True
                wakeup = clock.engine.next_wakeup(now)
                for c in claimed:
                    seen(f"claim: {c.decision.action} {c.result}")
        seen("step: " + ("clean" if clean else "database error"))
        self.crashed &= self.running_ids()
        if len(self.crashed) < crashed:
            seen("step: reaped a crashed run")
        if not clean:
            return
        self.clean_steps += 1
        clock.last_clean = now
        self.clean_now = max(self.clean_now or now, now)
        assert wakeup > now, f"{clock.supervisor.name} planned to wake at {wakeup}, before {now}"
        assert not self.crashed, f"crashed runs {sorted(self.crashed)} survived a clean step"
        self.check_retries(now)

    @rule(which=st.integers(0, 2), seconds=st.integers(1, 75))
    def tick_along(self, which: int, seconds: int) -> None:
        """What a clock mostly does: sleep until about the next tick, then step."""
        self.advance(seconds)
        self.step_clock(self.clocks[which % len(self.clocks)], None)

    @rule(
        seconds=st.one_of(
            st.integers(1, 90),
            st.integers(1, 90),
            st.integers(91, 1800),
            st.integers(1800, 8 * 3600),
        )
    )
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @precondition(lambda self: self.now < self.change)
    @rule(offset=st.integers(-90, 90))
    def jump_to_the_dst_change(self, offset: int) -> None:
        self.now = max(self.now, self.change + timedelta(seconds=offset))

    @precondition(lambda self: bool(self.live_children()))
    @rule(pick=st.integers(0, 10_000), succeeded=st.booleans(), database_down=st.booleans())
    def finish(self, pick: int, succeeded: bool, database_down: bool) -> None:
        children = sorted(self.live_children(), key=lambda c: c.run_id)
        child = children[pick % len(children)]
        sup = child.supervisor
        del sup.live[child.run_id]
        status = Status.SUCCEEDED if succeeded else Status.FAILED
        outcome = Outcome(child.run_id, child.task, status, 0 if succeeded else 1, 1.0)
        # Down for good: the first try and the reconnecting retry both fail,
        # so the outcome waits in the supervisor's memory.
        fault = FailingStatement(1 if database_down else None, and_after=True)
        with (
            time_machine.travel(self.now + sup.skew, tick=False),
            connection.execute_wrapper(fault),
        ):
            sup.record(outcome)
        if database_down:
            connections.close_all()
            assert outcome in sup.unrecorded
            # The outage outlasts the lease: no heartbeat since the child ended.
            TaskRun.objects.filter(pk=child.run_id).update(heartbeat_at=LONG_AGO)
            self.waiting[child.run_id] = (sup, outcome)

    @precondition(lambda self: any(c.supervisor.unrecorded for c in self.clocks))
    @rule(which=st.integers(0, 2))
    def database_back(self, which: int) -> None:
        clock = self.clocks[which % len(self.clocks)]
        with time_machine.travel(self.now + clock.skew, tick=False):
            clock.supervisor.tend()
        assert not clock.supervisor.unrecorded
        for run_id, (sup, outcome) in list(self.waiting.items()):
            if sup is not clock.supervisor:
                continue
            del self.waiting[run_id]
            status = TaskRun.objects.get(pk=run_id).status
            if run_id in self.reapable:
                assert status in (outcome.status, Status.ABANDONED)
                seen(f"outcome written after an outage, found {status}")
            else:
                # Only its own engine stepped meanwhile: it must not have reaped it.
                assert status == outcome.status, f"run {run_id} recorded {status}"
                seen("outcome written after an outage only its own engine saw")

    @precondition(lambda self: bool(self.live_children()))
    @rule(pick=st.integers(0, 10_000))
    def crash(self, pick: int) -> None:
        children = sorted(self.live_children(), key=lambda c: c.run_id)
        child = children[pick % len(children)]
        del child.supervisor.live[child.run_id]  # the process and its supervisor's memory
        self.crashed.add(child.run_id)
        seen("crash")
        TaskRun.objects.filter(pk=child.run_id).update(heartbeat_at=LONG_AGO)

    @rule(name=st.sampled_from(["minutely", "overlapping", "nightly"]))
    def run_now(self, name: str) -> None:
        raw = {n: t.raw for n, t in self.tasks.items()}
        # Frozen time: move each request a microsecond on, as a running clock would.
        self.requests += 1
        when = self.now + timedelta(microseconds=self.requests)
        with override_settings(SCHEDULED_TASKS=raw), time_machine.travel(when, tick=False):
            request_run(name)

    # -- invariants -------------------------------------------------------------------
    @invariant()
    def no_tick_attempt_started_twice(self) -> None:
        keys = [(task, tick, attempt) for task, tick, attempt, _ in self.starts]
        assert len(keys) == len(set(keys)), f"started twice: {sorted(keys)}"
        ids = [pk for *_, pk in self.starts]
        assert len(ids) == len(set(ids)), f"a run was started twice: {sorted(ids)}"

    @invariant()
    def forbid_tasks_never_overlap(self) -> None:
        live = Counter(c.task for c in self.live_children())
        running = Counter(
            TaskRun.objects.filter(status=Status.RUNNING).values_list("task", flat=True)
        )
        for name, task in self.tasks.items():
            if task.spec.exclusive:
                assert live[name] <= 1, f"{name} has {live[name]} live runs"
                assert running[name] <= 1, f"{name} has {running[name]} running rows"

    @invariant()
    def every_claim_has_a_process_or_a_record(self) -> None:
        running = self.running_ids()
        live = {c.run_id for c in self.live_children()}
        waiting = {o.run_id for clock in self.clocks for o in clock.supervisor.unrecorded}
        orphans = running - live - waiting - self.crashed
        assert not orphans, f"runs {sorted(orphans)} are running with no process and no record"
        taken = waiting - self.reapable - running
        assert not taken, f"runs {sorted(taken)} were reaped by the engine holding their outcome"
        lost = live - running
        assert not lost, f"live runs {sorted(lost)} are no longer running in the database"

    @invariant()
    def tick_rows_fall_on_ticks(self) -> None:
        new = TaskRun.objects.filter(pk__gt=self.checked_up_to, on_tick=True).values_list(
            "pk", "task", "scheduled_for"
        )
        for pk, name, tick in new:
            expected = self.tasks[name].schedule.ticks(tick - timedelta(seconds=1), tick)
            assert expected == [tick], f"{name} has a row at {tick}, not one of its ticks"
            if name == "nightly" and tick.astimezone(NY).date() == self.change.date():
                seen("nightly: a tick row on the DST change day")
            self.checked_up_to = max(self.checked_up_to, pk)

    @invariant()
    def no_silent_gaps(self) -> None:
        if self.max_now is None or self.clean_now is None:
            return
        floor = self.max_now - timedelta(seconds=WINDOW)
        ticks = TaskRun.objects.filter(on_tick=True)
        bounds = {
            row["task"]: (row["first"], row["latest"])
            for row in ticks.values("task").annotate(
                first=Min("scheduled_for"), latest=Max("scheduled_for")
            )
        }
        recent: dict[str, set[datetime]] = {}
        for name, tick in ticks.filter(scheduled_for__gt=floor).values_list(
            "task", "scheduled_for"
        ):
            recent.setdefault(name, set()).add(tick)
        for name, task in self.tasks.items():
            if name not in bounds:
                continue
            first, latest = bounds[name]
            rows = recent.get(name, set())
            missing = [
                tick
                for tick in task.schedule.ticks(floor, self.max_now)[-CAP:]
                if tick >= first
                and tick not in rows
                and (
                    tick <= latest
                    or (
                        not task.one_tick_per_step
                        and (self.clean_now - tick).total_seconds() > task.deadline(tick)
                    )
                )
            ]
            assert not missing, (
                f"{name} ({task.spec.catchup}, {task.spec.overlap}): ticks "
                f"{[t.isoformat() for t in missing[:5]]} (of {len(missing)}) have no row, "
                f"though older than its latest tick row ({latest.isoformat()}) or past their "
                f"deadline at a clean step at {self.clean_now.isoformat()}"
            )

    def check_retries(self, now: datetime) -> None:
        """After a clean step at ``now``: a failed tick due for a retry got it."""
        for name, task in self.tasks.items():
            last = (
                TaskRun.objects.filter(task=name, on_tick=True)
                .order_by("-scheduled_for", "-attempt", "-id")
                .first()
            )
            if (
                last is None
                or last.status not in FAILURES
                or last.attempt > task.spec.retries
                or last.finished_at is None
                or last.finished_at + timedelta(seconds=RETRY_DELAY) > now
                or task.schedule.ticks(last.scheduled_for, now)
            ):
                continue
            raise AssertionError(
                f"{name}: tick {last.scheduled_for} attempt {last.attempt} {last.status} "
                f"at {last.finished_at} was not retried by a clean step at {now}"
            )


MODEL_SETTINGS = settings(
    # MODEL_EXAMPLES=2000 for a longer search when changing the engine.
    max_examples=int(os.environ.get("MODEL_EXAMPLES", 40)),
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.django_db(transaction=True)
@override_settings(
    SCHEDULED_TASKS_STALE_AFTER=STALE_AFTER,
    SCHEDULED_TASKS_CATCHUP_WINDOW=WINDOW,
    SCHEDULED_TASKS_MAX_CATCHUP_TICKS=CAP,
    SCHEDULED_TASKS_NOTIFY_AFTER=2,
)
def test_engines_sharing_a_database_keep_the_guarantees_whatever_happens() -> None:
    STATS.clear()
    run_state_machine_as_test(EngineModel, settings=MODEL_SETTINGS)
    print("\n".join(f"{n:6} {what}" for what, n in sorted(STATS.items())))
    # The examples reached what they are meant to exercise (not a vacuous pass);
    # rarer events (retries, outages) are printed above, not required.
    for what in (
        "step: clean",
        "step: database error",
        "step: reaped a crashed run",
        "claim: run started",
        "claim: run lost",
        "claim: catchup started",
        "race",
    ):
        assert STATS[what] > 0, f"no example did {what!r}: {dict(STATS)}"
