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
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Now
from django.utils import timezone

from core.models import FAILURES, Status, Task, TaskRun, Trigger
from core.scheduling.config import TaskSpec, get_tasks
from core.scheduling.runner import Supervisor, host_name, notify_finished
from core.scheduling.state import enabled_tasks, ensure_task_rows

log = logging.getLogger("core.scheduling")

# Rows whose scheduled_for is a real tick (admin and manual runs carry the
# moment they were requested instead).
TICK_TRIGGERS = (Trigger.CLOCK, Trigger.SCHEDULER, Trigger.RETRY)


@dataclass
class Decision:
    """What one step means to do about one task (``runtasks --dry-run`` prints these)."""

    task: str
    action: str  # run | catchup | missed | retry | request | force | wait | idle | disabled
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
    result: str  # started | lost | skipped | missed | waiting


class Engine:
    def __init__(
        self,
        trigger: str,
        specs: dict[str, TaskSpec] | None = None,
        *,
        only: Iterable[str] | None = None,
    ) -> None:
        self.trigger = trigger
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

    def latest_ticks(self, names: list[str]) -> dict[str, TaskRun]:
        """Each task's newest row that belongs to a tick (one indexed query)."""
        newest = (
            TaskRun.objects.filter(task=OuterRef("name"), trigger__in=TICK_TRIGGERS)
            .order_by("-scheduled_for", "-attempt")
            .values("id")[:1]
        )
        ids = Task.objects.filter(name__in=names).annotate(last=Subquery(newest)).values("last")
        return {run.task: run for run in TaskRun.objects.filter(id__in=Subquery(ids))}

    def plan(self, now: datetime | None = None) -> list[Decision]:
        """Decide, without writing, what is due for the selected tasks at ``now``."""
        now = now or timezone.now()
        self._ensure_rows()
        specs = self.selected
        enabled = self.enabled = enabled_tasks(specs)
        latest = self.latest_ticks(list(enabled))
        decisions: list[Decision] = []
        self.retry_due = {}
        for name, spec in specs.items():
            if name not in enabled:
                decisions.append(Decision(name, "disabled"))
                continue
            decisions += self._plan_task(spec, latest.get(name), now)
        for run in TaskRun.objects.queued().filter(task__in=list(specs)).order_by("created_at"):
            decisions.append(
                Decision(
                    run.task,
                    "request",
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
                decisions.append(Decision(spec.name, "idle", detail=f"next {spec.next_tick(now)}"))
            return decisions
        if spec.catchup == "all":
            overdue = [t for t in ticks if now - t > spec.deadline_for(t)]
            if spec.exclusive:
                # One at a time, oldest first; the next step takes the next one.
                first = ticks[0]
                action = "catchup" if overdue and first == overdue[0] else "run"
                return [Decision(spec.name, action, first)]
            return [Decision(spec.name, "catchup" if t in overdue else "run", t) for t in ticks]
        newest = ticks[-1]
        for tick in ticks:
            if now - tick <= spec.deadline_for(tick):
                decisions.append(Decision(spec.name, "run", tick))
            elif spec.catchup == "latest" and tick == newest:
                late = (now - tick).total_seconds()
                decisions.append(Decision(spec.name, "catchup", tick, detail=f"{late:.0f} s late"))
            else:
                decisions.append(Decision(spec.name, "missed", tick))
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
            return [
                Decision(spec.name, "wait", last.scheduled_for, last.attempt + 1, detail="retry")
            ]
        return [Decision(spec.name, "retry", last.scheduled_for, last.attempt + 1)]

    def next_wakeup(self, now: datetime) -> datetime:
        """The next moment anything selected becomes due (tick or pending retry)."""
        times = list(self.retry_due.values())
        enabled = self.enabled if self.enabled is not None else self.selected
        for spec in enabled.values():
            times.append(spec.next_tick(now))
        return min(times, default=now + timedelta(days=1))

    # -- writing --------------------------------------------------------------------
    def _new_row(
        self, spec: TaskSpec, tick: datetime, attempt: int, trigger: str, status: str, **fields: Any
    ) -> TaskRun:
        now = timezone.now()
        values: dict[str, Any] = {"created_at": now, "host": host_name()}
        if status == Status.RUNNING:
            values["heartbeat_at"] = now
        else:
            values["finished_at"] = now
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

    def claim_tick(self, spec: TaskSpec, tick: datetime, attempt: int, trigger: str) -> Claimed:
        """INSERT the tick's row as running: we win, lose, or find the task running."""
        decision = Decision(spec.name, "run", tick, attempt)
        run = self._new_row(spec, tick, attempt, trigger, Status.RUNNING)
        try:
            with transaction.atomic():
                run.save(force_insert=True)
        except IntegrityError:
            if TaskRun.objects.filter(task=spec.name, scheduled_for=tick, attempt=attempt).exists():
                return Claimed(decision, None, "lost")
            # Not the tick's key, so the partial index: the task is running elsewhere.
            skipped = self._new_row(
                spec,
                tick,
                attempt,
                trigger,
                Status.SKIPPED,
                error="the previous run was still running (overlap='forbid')",
            )
            TaskRun.objects.bulk_create([skipped], ignore_conflicts=True)
            log.info("skipped %s tick %s: still running", spec.name, tick.isoformat())
            return Claimed(decision, None, "skipped")
        log.info(
            "claimed %s tick %s attempt %s (%s)", spec.name, tick.isoformat(), attempt, trigger
        )
        return Claimed(decision, run, "started")

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
        """Claim an admin request (a queued row) with a conditional UPDATE."""
        assert decision.run_id is not None
        try:
            with transaction.atomic():
                won = TaskRun.objects.filter(pk=decision.run_id, status=Status.QUEUED).update(
                    status=Status.RUNNING,
                    heartbeat_at=Now(),
                    host=host_name(),
                )
        except IntegrityError:
            return Claimed(decision, None, "waiting")  # the task is running; try later
        if not won:
            return Claimed(decision, None, "lost")
        log.info("claimed %s (%s)", decision.task, decision.detail)
        return Claimed(decision, TaskRun.objects.get(pk=decision.run_id), "started")

    def claim_force(self, spec: TaskSpec, trigger: str) -> Claimed:
        now = timezone.now()
        return self.claim_tick(spec, now, 1, trigger)

    def reap_stale(self, exclude: Iterable[int] = ()) -> list[int]:
        """Mark ``abandoned`` the running rows whose heartbeat stopped (guarantee 4)."""
        stale_after = float(settings.SCHEDULED_TASKS_STALE_AFTER)
        stale = TaskRun.objects.stale(stale_after).exclude(pk__in=list(exclude))
        reaped = []
        for pk, task, beat in stale.values_list("pk", "task", "heartbeat_at"):
            # Re-check staleness in the UPDATE itself rather than comparing
            # heartbeat_at with the value read: on SQLite a heartbeat written by
            # Now() is stored with milliseconds ('...:26.666') and never equals
            # the microsecond string Django binds ('...:26.666000').
            stale_now = TaskRun.objects.stale(stale_after).filter(pk=pk)
            won = stale_now.update(
                status=Status.ABANDONED,
                finished_at=timezone.now(),
                error=(
                    f"no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC (over {stale_after:g} s): "
                    "its process was killed or its dyno vanished"
                ),
            )
            if won:
                log.warning("abandoned %s run #%s: no heartbeat since %s", task, pk, beat)
                reaped.append(pk)
                notify_finished(pk)
        return reaped

    def step(
        self,
        supervisor: Supervisor,
        now: datetime | None = None,
        *,
        force: bool = False,
        force_trigger: str | None = None,
    ) -> list[Claimed]:
        """Reap, plan, claim and start. Returns what happened to each decision."""
        now = now or timezone.now()
        # Our own runs are not stale, including those that ended while the
        # database was down and whose outcome waits in memory to be written.
        ours = [c.run_id for c in supervisor.children.values()]
        ours += [o.run_id for o in supervisor.unrecorded]
        self.reap_stale(exclude=ours)
        if force:
            decisions = [Decision(name, "force", now) for name in self.selected]
        else:
            decisions = self.plan(now)
        results: list[Claimed] = []
        missed: dict[str, list[datetime]] = {}
        for decision in decisions:
            spec = self.specs.get(decision.task)
            if spec is None:
                continue
            if decision.action in ("run", "catchup"):
                assert decision.tick is not None
                results.append(self.claim_tick(spec, decision.tick, 1, self.trigger))
            elif decision.action == "retry":
                assert decision.tick is not None
                results.append(
                    self.claim_tick(spec, decision.tick, decision.attempt, Trigger.RETRY)
                )
            elif decision.action == "force":
                results.append(self.claim_force(spec, force_trigger or self.trigger))
            elif decision.action == "request":
                results.append(self.claim_request(decision))
            elif decision.action == "missed":
                assert decision.tick is not None
                missed.setdefault(spec.name, []).append(decision.tick)
        for name, ticks in missed.items():
            self.record_missed(self.specs[name], ticks)
        # Claim everything first, then fork: each fork closes the connection.
        for claimed in results:
            if claimed.run is not None:
                spec = self.specs[claimed.run.task]
                supervisor.start(claimed.run, spec.command, spec.args, timeout=spec.timeout)
        return results
