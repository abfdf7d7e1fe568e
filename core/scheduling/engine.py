"""Deciding what is due and claiming it: the one step every scheduler process takes.

``Engine.step()`` is the unit of work of both the clock and ``runtasks``: reap
runs whose heartbeat stopped, work out which ticks are due, claim each with one
statement that wins or loses, and start the winners in child processes. The
database decides every race (guarantees 1-3):

* a tick is claimed by INSERTing its ``(task, scheduled_for, attempt)`` row as
  ``running``; the unique constraint lets exactly one process win;
* the INSERT of a second ``running`` row of an ``overlap="forbid"`` task fails
  on the partial unique index, and the tick is then recorded ``skipped``;
* ticks that passed their starting deadline are INSERTed as ``missed`` (ignoring
  conflicts), so every tick in the catch-up window ends in a recorded state;
* admin requests (``queued`` rows) are claimed with a conditional UPDATE.

Nothing is read-then-written: reads only decide what to *try*.

A claimed run either starts or is recorded at once: each winner is forked
right after its claim commits, before the next statement, and a run whose
process cannot be started is recorded ``failed`` on the spot (kept in the
supervisor's memory until the database takes it). ``missed`` rows are written
before any claim, so a database error in the middle of a step leaves no
``running`` row without a process.

Runs asked for by hand (a direct ``manage.py`` run, ``runtasks --force``) are
not ticks: their row has ``on_tick`` false and a ``scheduled_for`` that never
falls on a whole second (:func:`request_time`), so they can neither take a
tick's key nor be mistaken for the task's last tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.utils import timezone

from core.models import FAILURES, FINISHED, Status, TaskRun, Trigger
from core.scheduling.config import TaskSpec, get_tasks
from core.scheduling.executors import Executor, get_executor
from core.scheduling.notify import Mail
from core.scheduling.runs import Outcome, host_name, notify_finished
from core.scheduling.state import enabled_tasks, ensure_task_rows, request_time
from core.scheduling.supervisor import Supervisor

log = logging.getLogger("core.scheduling")


class Action(StrEnum):
    """What a step means to do about a task."""

    RUN = "run"  # a tick inside its starting deadline
    CATCHUP = "catchup"  # an overdue tick that still runs (catchup latest/all)
    MISSED = "missed"  # an overdue tick recorded as missed
    RETRY = "retry"  # the next attempt at a failed tick
    REQUEST = "request"  # a queued run (admin "run now", request_run, a queued retry)
    FORCE = "force"  # runtasks --force
    WAIT = "wait"  # a retry whose delay has not passed
    IDLE = "idle"  # nothing due
    DISABLED = "disabled"


class ClaimResult(StrEnum):
    """How a claim ended."""

    STARTED = "started"  # we won and the run's process is running
    LOST = "lost"  # another process holds this (task, tick, attempt)
    SKIPPED = "skipped"  # the task was running (overlap="forbid"); recorded skipped
    WAITING = "waiting"  # a request whose task is running; it stays queued
    NOT_STARTED = "not started"  # we won but could not start a process; recorded failed


@dataclass
class Decision:
    """What one step means to do about one task (``runtasks --dry-run`` prints these)."""

    task: str
    action: Action
    tick: datetime | None = None
    attempt: int = 1
    run_id: int | None = None  # the queued row, for requests
    detail: str = ""

    def describe(self) -> str:
        when = f" tick {self.tick:%Y-%m-%d %H:%M:%S}Z" if self.tick else ""
        attempt = f" attempt {self.attempt}" if self.attempt > 1 else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.task}: {self.action}{when}{attempt}{detail}"


@dataclass
class Claimed:
    decision: Decision
    run: TaskRun | None  # the running row we own, if we won
    result: ClaimResult
    failure: Outcome | None = None  # why it was NOT_STARTED (already recorded)


class Engine:
    def __init__(
        self,
        trigger: str,
        specs: dict[str, TaskSpec] | None = None,
        *,
        only: Iterable[str] | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.trigger = trigger
        # Where claimed runs execute (SCHEDULED_TASKS_EXECUTOR): forked here, or handed on.
        self.executor = executor if executor is not None else get_executor()
        self.specs = specs if specs is not None else get_tasks()
        self.only = set(only) if only else None
        self._rows_ensured = False
        self.retry_due: dict[str, datetime] = {}
        # Enabled tasks as of the last plan (the admin can switch them at run time).
        self.enabled: dict[str, TaskSpec] | None = None

    @property
    def selected(self) -> dict[str, TaskSpec]:
        if self.only is None:
            return self.specs
        return {n: s for n, s in self.specs.items() if n in self.only}

    # -- reading --------------------------------------------------------------------
    def _ensure_rows(self) -> None:
        if not self._rows_ensured:
            ensure_task_rows(self.specs)
            self._rows_ensured = True

    def plan(self, now: datetime | None = None) -> list[Decision]:
        """Decide, without writing, what is due for the selected tasks at ``now``."""
        now = now or timezone.now()
        self._ensure_rows()
        specs = self.selected
        enabled = self.enabled = enabled_tasks(specs)
        latest = TaskRun.objects.latest_per_task(list(enabled), ticks_only=True)
        decisions: list[Decision] = []
        self.retry_due = {}
        for name, spec in specs.items():
            if name not in enabled:
                decisions.append(Decision(name, Action.DISABLED))
                continue
            decisions += self._plan_task(spec, latest.get(name), now)
        # Requests not yet claimed; those handed on to workers are the executor's.
        waiting = TaskRun.objects.queued().filter(task__in=list(specs), executor="")
        for run in waiting.order_by("created_at"):
            decisions.append(
                Decision(
                    run.task,
                    Action.REQUEST,
                    run.scheduled_for,
                    run.attempt,
                    run.pk,
                    f"{run.trigger} request #{run.pk}",
                )
            )
        return decisions

    def _plan_task(self, spec: TaskSpec, last: TaskRun | None, now: datetime) -> list[Decision]:
        floor = now - timedelta(seconds=settings.SCHEDULED_TASKS_CATCHUP_WINDOW)
        if last is not None:
            start = max(last.scheduled_for, floor)
        else:
            # A task never run before has no gaps to account for: only a tick
            # still inside its starting deadline can be due.
            lookback = spec.starting_deadline if spec.starting_deadline is not None else 3600.0
            start = now - timedelta(seconds=lookback)
        ticks = spec.ticks_between(start, now)
        if last is None:
            ticks = [t for t in ticks if now - t <= spec.deadline_for(t)]
        cap = settings.SCHEDULED_TASKS_MAX_CATCHUP_TICKS
        if len(ticks) > cap:
            log.warning(
                "%s: %s ticks since %s; considering only the newest %s",
                spec.name,
                len(ticks),
                start,
                cap,
            )
            ticks = ticks[-cap:]
        decisions: list[Decision] = []
        if not ticks:
            decisions += self._plan_retry(spec, last, now)
            if not decisions:
                nxt = spec.next_tick(now)
                decisions.append(Decision(spec.name, Action.IDLE, detail=f"next {nxt}"))
            return decisions
        if spec.catchup == "all":
            overdue = [t for t in ticks if now - t > spec.deadline_for(t)]
            if spec.exclusive:
                # One at a time, oldest first; the next step takes the next one.
                first = ticks[0]
                action = Action.CATCHUP if overdue and first == overdue[0] else Action.RUN
                return [Decision(spec.name, action, first)]
            return [
                Decision(spec.name, Action.CATCHUP if t in overdue else Action.RUN, t)
                for t in ticks
            ]
        newest = ticks[-1]
        for tick in ticks:
            if now - tick <= spec.deadline_for(tick):
                decisions.append(Decision(spec.name, Action.RUN, tick))
            elif spec.catchup == "latest" and tick == newest:
                late = (now - tick).total_seconds()
                decisions.append(
                    Decision(spec.name, Action.CATCHUP, tick, detail=f"{late:.0f} s late")
                )
            else:
                decisions.append(Decision(spec.name, Action.MISSED, tick))
        return decisions

    def _plan_retry(self, spec: TaskSpec, last: TaskRun | None, now: datetime) -> list[Decision]:
        if (
            last is None
            or last.status not in FAILURES
            or last.attempt > spec.retries
            or last.finished_at is None
        ):
            return []
        due = last.finished_at + timedelta(seconds=spec.retry_delay)
        if now < due:
            self.retry_due[spec.name] = due
            nxt = last.attempt + 1
            return [Decision(spec.name, Action.WAIT, last.scheduled_for, nxt, detail="retry")]
        return [Decision(spec.name, Action.RETRY, last.scheduled_for, last.attempt + 1)]

    def next_wakeup(self, now: datetime) -> datetime:
        """The next moment anything selected becomes due (tick or pending retry)."""
        times = list(self.retry_due.values())
        executor_wakeup = self.executor.next_wakeup()
        if executor_wakeup is not None:
            times.append(executor_wakeup)
        enabled = self.enabled if self.enabled is not None else self.selected
        for spec in enabled.values():
            times.append(spec.next_tick(now))
        return min(times, default=now + timedelta(days=1))

    # -- writing --------------------------------------------------------------------
    def _new_row(
        self, spec: TaskSpec, tick: datetime, attempt: int, trigger: str, status: str, **fields: Any
    ) -> TaskRun:
        values: dict[str, Any] = {"created_at": timezone.now(), "host": host_name()}
        if status == Status.RUNNING:
            # The lease starts in database time, like every later heartbeat and
            # every staleness test (guarantee 4): app-server clocks may be off.
            values["heartbeat_at"] = Now()
        elif status == Status.QUEUED:
            # Claimed for an executor that hands runs on; sent once this commits.
            values["executor"] = self.executor.name
            values["dispatched_at"] = Now()
        elif status in FINISHED:
            values["finished_at"] = timezone.now()
        values.update(fields)
        return TaskRun(
            task=spec.name,
            scheduled_for=tick,
            attempt=attempt,
            trigger=trigger,
            status=status,
            exclusive=spec.exclusive,
            **values,
        )

    def claim_tick(
        self,
        spec: TaskSpec,
        tick: datetime,
        attempt: int,
        trigger: str,
        *,
        on_tick: bool = True,
        args: list[str] | None = None,
    ) -> Claimed:
        """INSERT the tick's row as running: we win, lose, or find the task running.

        Under an executor that hands runs on, the row is INSERTed ``queued``
        for it instead; whoever executes it wins ``queued -> running`` (and a
        task found running then is recorded skipped by the worker).

        ``args``: the arguments this run uses instead of the declared ones.
        """
        decision = Decision(spec.name, Action.RUN, tick, attempt)
        status = self.executor.claim_status
        running_elsewhere = False
        if status == Status.QUEUED and spec.exclusive:
            # A read only decides what to try: the skipped row takes the tick's key.
            # exclusive=True: the rows of the partial unique index, read through it
            # (without it SQLite walks every past run of the task).
            running_elsewhere = (
                TaskRun.objects.running().filter(task=spec.name, exclusive=True).exists()
            )
        run = self._new_row(spec, tick, attempt, trigger, status, on_tick=on_tick, args=args)
        try:
            if running_elsewhere:
                raise IntegrityError("the task is running")
            with transaction.atomic():
                run.save(force_insert=True)
        except IntegrityError:
            if TaskRun.objects.filter(task=spec.name, scheduled_for=tick, attempt=attempt).exists():
                return Claimed(decision, None, ClaimResult.LOST)
            # Not the tick's key, so the partial index: the task is running elsewhere.
            skipped = self._new_row(
                spec,
                tick,
                attempt,
                trigger,
                Status.SKIPPED,
                on_tick=on_tick,
                error="the previous run was still running (overlap='forbid')",
            )
            TaskRun.objects.bulk_create([skipped], ignore_conflicts=True)
            log.info("skipped %s tick %s: still running", spec.name, tick.isoformat())
            return Claimed(decision, None, ClaimResult.SKIPPED)
        run.heartbeat_at = run.dispatched_at = None  # written by the database; not needed here
        if on_tick:
            log.info(
                "claimed %s tick %s attempt %s (%s)", spec.name, tick.isoformat(), attempt, trigger
            )
        else:
            log.info("claimed %s run requested at %s (%s)", spec.name, tick.isoformat(), trigger)
        return Claimed(decision, run, ClaimResult.STARTED)

    def record_missed(self, spec: TaskSpec, ticks: list[datetime]) -> None:
        rows = [
            self._new_row(
                spec,
                tick,
                1,
                self.trigger,
                Status.MISSED,
                error=(
                    f"not started within its starting deadline "
                    f"({spec.deadline_for(tick).total_seconds():g} s)"
                ),
            )
            for tick in ticks
        ]
        TaskRun.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        log.info(
            "missed %s: %s tick(s) from %s to %s",
            spec.name,
            len(ticks),
            ticks[0].isoformat(),
            ticks[-1].isoformat(),
        )

    def claim_request(self, decision: Decision) -> Claimed:
        """Claim a queued run (admin request, queued retry) with a conditional UPDATE."""
        assert decision.run_id is not None
        # Read the row first: once the UPDATE below has won, no statement may
        # stand between the claim and the fork (an error there would leave a
        # claimed run with no process).
        waiting = TaskRun.objects.filter(pk=decision.run_id, status=Status.QUEUED, executor="")
        run = waiting.first()
        if run is None:
            return Claimed(decision, None, ClaimResult.LOST)
        host = host_name()
        if self.executor.claim_status == Status.QUEUED:
            # Handed on: it stays queued for the worker. An exclusive task
            # running now keeps it waiting here (the worker would only send it back).
            running = TaskRun.objects.running().filter(task=run.task, exclusive=True)
            if run.exclusive and running.exists():
                return Claimed(decision, None, ClaimResult.WAITING)
            won = waiting.update(executor=self.executor.name, dispatched_at=Now())
            if not won:
                return Claimed(decision, None, ClaimResult.LOST)
            run.executor = self.executor.name
            log.info("claimed %s (%s) for %s", decision.task, decision.detail, run.executor)
            return Claimed(decision, run, ClaimResult.STARTED)
        try:
            with transaction.atomic():
                won = waiting.update(status=Status.RUNNING, heartbeat_at=Now(), host=host)
        except IntegrityError:
            return Claimed(decision, None, ClaimResult.WAITING)  # the task is running
        if not won:
            return Claimed(decision, None, ClaimResult.LOST)
        run.status, run.host = Status.RUNNING, host
        log.info("claimed %s (%s)", decision.task, decision.detail)
        return Claimed(decision, run, ClaimResult.STARTED)

    def claim_force(
        self, spec: TaskSpec, trigger: str, *, args: list[str] | None = None
    ) -> Claimed:
        """Claim a run now that is not a tick (``runtasks --force``, a direct run)."""
        when = request_time()
        for _ in range(3):
            claimed = self.claim_tick(spec, when, 1, trigger, on_tick=False, args=args)
            if claimed.result != ClaimResult.LOST:
                claimed.decision.action = Action.FORCE
                return claimed
            # Another request took this very microsecond; ticks never can.
            when += timedelta(microseconds=1)
        return claimed

    def reap_stale(
        self, exclude: Iterable[int] = (), *, send: Callable[[Mail], None] | None = None
    ) -> list[int]:
        """Mark ``abandoned`` the running rows whose heartbeat stopped (guarantee 4).

        ``send`` delivers any notification mail (a supervisor sends it from a
        child process, off its heartbeat path); by default it is sent inline.
        """
        stale_after = float(settings.SCHEDULED_TASKS_STALE_AFTER)
        stale = TaskRun.objects.stale(stale_after).exclude(pk__in=list(exclude))
        reaped = []
        # A list, not a lazy cursor: a mail sent below forks, which closes the connection.
        for pk, task, beat in list(stale.values_list("pk", "task", "heartbeat_at")):
            # Re-check staleness in the UPDATE itself rather than comparing
            # heartbeat_at with the value read: on SQLite a heartbeat written by
            # Now() is stored with milliseconds ('...:26.666') and never equals
            # the microsecond string Django binds ('...:26.666000').
            stale_now = TaskRun.objects.stale(stale_after).filter(pk=pk)
            won = stale_now.update(
                status=Status.ABANDONED,
                # The app's clock, like every other finished_at: retry delays
                # are planned against it. Only leases are judged in database time.
                finished_at=timezone.now(),
                error=(
                    f"no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC (over {stale_after:g} s): "
                    "its process was killed, its dyno vanished, or it lost the database"
                ),
            )
            if won:
                log.warning("abandoned %s run #%s: no heartbeat since %s", task, pk, beat)
                reaped.append(pk)
                notify_finished(pk, send)
        return reaped

    def step(
        self,
        supervisor: Supervisor,
        now: datetime | None = None,
        *,
        force: bool = False,
        force_trigger: str | None = None,
    ) -> list[Claimed]:
        """Reap, plan, claim and start. Returns what happened to each decision.

        Each winning claim is started before the next statement runs, so an
        error part-way (the database going away) leaves every claimed run with
        a process or a record; ``missed`` rows go first for the same reason.
        """
        now = now or timezone.now()
        # Our own runs are not stale, including those that ended while the
        # database was down and whose outcome waits in memory to be written.
        self.reap_stale(exclude=supervisor.own_run_ids(), send=supervisor.mailer.send)
        # Runs handed on earlier: re-send what never reached the broker, time out the rest.
        self.executor.tend(send=supervisor.mailer.send)
        if force:
            decisions = [Decision(name, Action.FORCE, now) for name in self.selected]
        else:
            decisions = self.plan(now)
        missed: dict[str, list[datetime]] = {}
        for decision in decisions:
            if decision.action == Action.MISSED and decision.task in self.specs:
                assert decision.tick is not None
                missed.setdefault(decision.task, []).append(decision.tick)
        for name, ticks in missed.items():
            self.record_missed(self.specs[name], ticks)
        results: list[Claimed] = []
        for decision in decisions:
            spec = self.specs.get(decision.task)
            if spec is None:
                continue
            if decision.action in (Action.RUN, Action.CATCHUP):
                assert decision.tick is not None
                claimed = self.claim_tick(spec, decision.tick, 1, self.trigger)
                claimed.decision = decision
            elif decision.action == Action.RETRY:
                assert decision.tick is not None
                claimed = self.claim_tick(spec, decision.tick, decision.attempt, Trigger.RETRY)
                claimed.decision = decision
            elif decision.action == Action.FORCE:
                claimed = self.claim_force(spec, force_trigger or self.trigger)
            elif decision.action == Action.REQUEST:
                claimed = self.claim_request(decision)
            else:
                continue
            if claimed.run is not None:
                claimed.failure = self.start(supervisor, spec, claimed)
            results.append(claimed)
        return results

    def start(
        self,
        supervisor: Supervisor,
        spec: TaskSpec,
        claimed: Claimed,
        command: Any = None,
        args: Any = None,
        options: dict[str, Any] | None = None,
    ) -> Outcome | None:
        """Start (or hand on) a run we just claimed, or record at once that it could not.

        Returns the failure's outcome when the process could not be started.
        """
        run = claimed.run
        assert run is not None
        if args is None:
            # A request may carry arguments of its own (request_run(task, args)).
            args = spec.args if run.args is None else run.args
        extra: dict[str, Any] = {}
        if command is not None or options is not None:
            extra = {"command": command, "options": options}
        outcome = self.executor.start(supervisor, spec, run, args, **extra)
        if outcome is not None:
            claimed.result = ClaimResult.NOT_STARTED
        return outcome
