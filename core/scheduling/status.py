"""Health of each declared task, for ``manage.py tasks``, ``--check`` and the admin.

Definitions (all times UTC, ``now`` = ``timezone.now()``):

* **failing** — the task's newest run that either succeeded or failed
  (ignoring skipped, missed, queued and running runs) failed: its
  consecutive-failure count (see ``notify.consecutive_failures``) is >= 1;
  its problems then say how the newest failure ended and why (the last line
  of its error).
* **overdue** — something that should have happened has not:
  (a) *tick not handled*: the newest tick ``t`` whose starting window has
  closed (``t + deadline_for(t) <= now``) has no tick record at all (no
  attempt in any status, not even ``missed``), although the task has a
  recorded tick before ``t`` (a task with no recorded tick is "never run",
  not overdue, so a newly declared task is not flagged for ticks before it
  existed). Ticks are what the engine takes for ticks: rows with
  ``on_tick`` set; a manual, forced or admin run never counts as one; or
  (b) *run stuck*: a ``running`` run has been running longer than the task's
  ``timeout`` plus ``SCHEDULED_TASKS_STALE_AFTER``, or its heartbeat is older
  than ``SCHEDULED_TASKS_STALE_AFTER`` (the engine should have marked it
  ``timed_out`` or ``abandoned`` by then); or
  (c) *request stuck*: a ``queued`` run has waited longer than
  ``QUEUE_GRACE`` (15 minutes: the Scheduler add-on's 10-minute cadence
  plus margin).
* **missed** — the task's newest run is ``missed``, or a ``missed`` run has
  a tick within the missed window: the last ``max(one period, 1 hour)``
  before ``now``, where one period is the gap between the task's next two
  ticks.

Disabled tasks are never overdue (nothing is expected of them). The cost is
a fixed number of queries however many runs are stored: five (the first
creates missing Task rows), plus one bounded, index-served streak query per
declared task that has runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Case, DateTimeField, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from core.models import Status, Task, TaskRun
from core.scheduling.config import TaskSpec, get_tasks
from core.scheduling.notify import failure_streak
from core.scheduling.state import ensure_task_rows

QUEUE_GRACE = timedelta(minutes=15)
MIN_MISSED_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class TaskStatus:
    name: str
    schedule: str
    enabled_in_settings: bool
    enabled_in_admin: bool
    next_tick: datetime
    last_run: TaskRun | None
    consecutive_failures: int
    failing: bool
    overdue: bool
    missed: bool
    problems: tuple[str, ...]  # one phrase per flag raised, for humans

    @property
    def enabled(self) -> bool:
        return self.enabled_in_settings and self.enabled_in_admin

    @property
    def ok(self) -> bool:
        """What ``tasks --check`` asks of an enabled task."""
        return not (self.failing or self.overdue or self.missed)

    @property
    def flags(self) -> list[str]:
        return [
            flag
            for flag, raised in (
                ("failing", self.failing),
                ("overdue", self.overdue),
                ("missed", self.missed),
            )
            if raised
        ]

    def as_dict(self) -> dict[str, Any]:
        """A stable, JSON-ready description (keys never removed, only added)."""
        run = self.last_run
        return {
            "name": self.name,
            "schedule": self.schedule,
            "enabled": self.enabled,
            "enabled_in_settings": self.enabled_in_settings,
            "enabled_in_admin": self.enabled_in_admin,
            "next_tick": _iso(self.next_tick),
            "last_run": None
            if run is None
            else {
                "scheduled_for": _iso(run.scheduled_for),
                "attempt": run.attempt,
                "trigger": run.trigger,
                "status": run.status,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "exit_code": run.exit_code,
            },
            "consecutive_failures": self.consecutive_failures,
            "failing": self.failing,
            "overdue": self.overdue,
            "missed": self.missed,
            "ok": self.ok,
            "problems": list(self.problems),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _last_closed_tick(spec: TaskSpec, now: datetime) -> datetime | None:
    """The newest tick whose starting window has closed by ``now``."""
    # Ticks only iterate forward, so start far enough back: two periods plus a
    # deadline usually suffice; irregular crons (weekdays only) may need more.
    nxt = spec.next_tick(now)
    reach = 2 * (spec.next_tick(nxt) - nxt) + spec.deadline_for(nxt)
    for _ in range(8):
        found = None
        for tick in spec.ticks_between(now - reach, now):
            if tick + spec.deadline_for(tick) <= now:
                found = tick
        if found is not None:
            return found
        reach *= 4
    return None


def task_statuses(specs: dict[str, TaskSpec] | None = None) -> list[TaskStatus]:
    """The status of every declared task, in name order."""
    specs = get_tasks() if specs is None else specs
    names = sorted(specs)
    if not names:
        return []
    now = timezone.now()
    ensure_task_rows(names)
    expected: dict[str, datetime] = {}
    missed_since: dict[str, datetime] = {}
    for name in names:
        spec = specs[name]
        tick = _last_closed_tick(spec, now)
        if tick is not None:
            expected[name] = tick
        nxt = spec.next_tick(now)
        missed_since[name] = now - max(spec.next_tick(nxt) - nxt, MIN_MISSED_WINDOW)

    # One row per task, each subquery a short range of the index
    # (task, -scheduled_for, ...): the oldest run, and the newest missed run
    # inside the task's missed window.
    oldest = (
        TaskRun.objects.filter(task=OuterRef("name"), on_tick=True)
        .order_by("scheduled_for")
        .values("scheduled_for")[:1]
    )
    newest_missed = (
        TaskRun.objects.filter(
            task=OuterRef("name"), status=Status.MISSED, scheduled_for__gte=OuterRef("since")
        )
        .order_by("-scheduled_for")
        .values("scheduled_for")[:1]
    )
    since = Case(
        *(When(name=name, then=Value(value)) for name, value in missed_since.items()),
        output_field=DateTimeField(),
    )
    rows = list(
        Task.objects.filter(name__in=names)
        .annotate(since=since)
        .annotate(first=Subquery(oldest), last_missed=Subquery(newest_missed))
    )
    admin_enabled = {row.name: row.enabled for row in rows}
    first_run = {row.name: row.first for row in rows if row.first is not None}
    recently_missed = {row.name for row in rows if row.last_missed is not None}
    latest = TaskRun.objects.latest_per_task(names)

    # Which expected ticks have a record (any attempt, any status).
    handled: set[str] = set()
    if expected:
        tick_match = Q()
        for name, tick in expected.items():
            tick_match |= Q(task=name, scheduled_for=tick)
        handled = set(
            TaskRun.objects.filter(tick_match, on_tick=True).values_list("task", flat=True)
        )

    # Exactly the taskrun_active partial index's condition, so SQLite uses it
    # too (with a task IN (...) term it picks the task index and scans).
    active = [
        run
        for run in TaskRun.objects.filter(status__in=["queued", "running"])
        .order_by()
        .only("task", "status", "created_at", "started_at", "heartbeat_at")
        if run.task in specs
    ]
    stale_after = timedelta(seconds=settings.SCHEDULED_TASKS_STALE_AFTER)
    out = []
    for name in names:
        spec = specs[name]
        enabled = spec.enabled and admin_enabled.get(name, True)
        last = latest.get(name)
        streak, failed_as, reason = failure_streak(name) if last is not None else (0, "", "")
        problems: list[str] = []
        if streak:
            problems.append(f"{streak} consecutive failure{'s' if streak != 1 else ''}")
            if reason:
                # Why, in the newest failure's own words ("no worker started it in 300 s").
                problems.append(f"last {failed_as}: {reason}")
        overdue = False
        if enabled:
            tick = expected.get(name)
            first = first_run.get(name)
            if tick is not None and name not in handled and first is not None and first < tick:
                overdue = True
                problems.append(f"tick {tick:%Y-%m-%d %H:%M} UTC was never started")
            for run in active:
                if run.task != name:
                    continue
                if run.status == Status.RUNNING:
                    timeout = timedelta(seconds=spec.timeout) + stale_after
                    if run.started_at and now - run.started_at > timeout:
                        overdue = True
                        problems.append("a run is past its timeout")
                    elif run.heartbeat_at and now - run.heartbeat_at > stale_after:
                        overdue = True
                        problems.append("a running run stopped heartbeating")
                elif now - run.created_at > QUEUE_GRACE:
                    overdue = True
                    problems.append("a queued run has not been picked up")
        missed = name in recently_missed or (last is not None and last.status == Status.MISSED)
        if missed:
            problems.append("missed ticks")
        out.append(
            TaskStatus(
                name=name,
                schedule=spec.describe(),
                enabled_in_settings=spec.enabled,
                enabled_in_admin=admin_enabled.get(name, True),
                next_tick=spec.next_tick(now),
                last_run=last,
                consecutive_failures=streak,
                failing=streak > 0,
                overdue=overdue,
                missed=missed,
                problems=tuple(dict.fromkeys(problems)),  # once each, in order
            )
        )
    return out


__all__ = ["TaskStatus", "task_statuses"]
