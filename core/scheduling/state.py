"""Run-time state of declared tasks kept in the database (the ``Task`` rows)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.models import Task
from core.scheduling.config import TaskSpec


def ensure_task_rows(names: Iterable[str]) -> None:
    """Create a ``Task`` row for every declared task that has none (race-safe)."""
    Task.objects.bulk_create([Task(name=name) for name in names], ignore_conflicts=True)


def enabled_tasks(specs: Mapping[str, TaskSpec]) -> dict[str, TaskSpec]:
    """Tasks enabled both in settings and in the admin (one query)."""
    disabled = set(
        Task.objects.filter(name__in=list(specs), enabled=False).values_list("name", flat=True)
    )
    return {name: spec for name, spec in specs.items() if spec.enabled and name not in disabled}
