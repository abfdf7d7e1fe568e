"""Run-time state of declared tasks kept in the database (the ``Task`` rows)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.utils import timezone

from core.models import Task
from core.scheduling.config import TaskSpec


def ensure_task_rows(names: Iterable[str]) -> None:
    """Create a ``Task`` row for every declared task that has none (race-safe).

    Reads first: on SQLite even an INSERT that ignores every conflict takes the
    write lock, which would queue every ``runtasks`` behind the clocks' claims.
    """
    names = list(names)
    have = set(Task.objects.filter(name__in=names).values_list("name", flat=True))
    missing = [Task(name=name) for name in names if name not in have]
    if missing:
        Task.objects.bulk_create(missing, ignore_conflicts=True)


def enabled_tasks(specs: Mapping[str, TaskSpec]) -> dict[str, TaskSpec]:
    """Tasks enabled both in settings and in the admin (one query)."""
    disabled = set(
        Task.objects.filter(name__in=list(specs), enabled=False).values_list("name", flat=True)
    )
    return {name: spec for name, spec in specs.items() if spec.enabled and name not in disabled}


def request_time() -> datetime:
    """Now, as the ``scheduled_for`` of a run that is not a tick.

    Ticks fall on whole seconds (cron minutes, epoch-aligned ``every``), so a
    request time with a non-zero microsecond can never take a tick's
    (task, scheduled_for, attempt) key.
    """
    now = timezone.now()
    return now if now.microsecond else now + timedelta(microseconds=1)
