"""Migration 0004 marks the rows of an existing database that were never ticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("core", "0003_taskrun_running_and_queued_indexes")]
AFTER = [("core", "0004_taskrun_on_tick")]
TICK = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
REQUESTED = TICK + timedelta(minutes=7, microseconds=123)


@pytest.mark.django_db(transaction=True)
def test_old_manual_admin_forced_and_manual_retry_rows_are_marked_no_tick() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        TaskRun = old.get_model("core", "TaskRun")
        rows = {
            "clock tick": ("clock", TICK),
            "scheduler tick": ("scheduler", TICK + timedelta(minutes=10)),
            "retry of a tick": ("retry", TICK),
            "manual": ("manual", REQUESTED),
            "admin": ("admin", REQUESTED + timedelta(seconds=1)),
            "forced in a Scheduler dyno": ("scheduler", REQUESTED + timedelta(seconds=2)),
            "retry of a manual run": ("retry", REQUESTED + timedelta(seconds=3)),
        }
        ids = {
            name: TaskRun.objects.create(
                task="job",
                scheduled_for=when,
                attempt=2 if trigger == "retry" else 1,
                trigger=trigger,
                status="succeeded",
            ).pk
            for name, (trigger, when) in rows.items()
        }
        MigrationExecutor(connection).migrate(AFTER)
        new = MigrationExecutor(connection).loader.project_state(AFTER).apps
        marked = dict(new.get_model("core", "TaskRun").objects.values_list("pk", "on_tick"))
        assert {name: marked[pk] for name, pk in ids.items()} == {
            "clock tick": True,
            "scheduler tick": True,
            "retry of a tick": True,
            "manual": False,
            "admin": False,
            "forced in a Scheduler dyno": False,
            "retry of a manual run": False,
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
