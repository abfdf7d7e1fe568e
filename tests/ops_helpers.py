"""Helpers for the operator-side tests (admin, tasks, prune_runs, notifications)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.models import FINISHED, Status, TaskRun, Trigger

# Two tasks on real management commands: a daily cron task and a 10-minute one.
TASKS: dict[str, dict[str, Any]] = {
    "nightly": {"command": "check", "schedule": "0 3 * * *"},
    "often": {"command": "check", "every": 600},
}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def make_run(
    task: str,
    scheduled_for: datetime,
    status: str = Status.SUCCEEDED,
    *,
    attempt: int = 1,
    trigger: str = Trigger.CLOCK,
    **fields: Any,
) -> TaskRun:
    """A run record as the engine would leave it (finished_at set for terminal states)."""
    if status in FINISHED and status not in (Status.MISSED, Status.SKIPPED):
        fields.setdefault("started_at", scheduled_for + timedelta(seconds=2))
    if status in FINISHED:
        fields.setdefault("finished_at", scheduled_for + timedelta(seconds=30))
    if status == Status.RUNNING:
        fields.setdefault("started_at", scheduled_for + timedelta(seconds=2))
        fields.setdefault("heartbeat_at", fields["started_at"])
    fields.setdefault("created_at", scheduled_for)
    return TaskRun.objects.create(
        task=task,
        scheduled_for=scheduled_for,
        attempt=attempt,
        trigger=trigger,
        status=status,
        **fields,
    )
