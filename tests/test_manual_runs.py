"""A task's command run directly (``python manage.py <command>``: ``heroku run``,
a Scheduler entry) is recorded like any run, and respects ``overlap="forbid"``."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from core.models import Status, TaskRun, Trigger
from tests.processes import Processes, read_records, record_task, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

YEARLY = {"schedule": "0 0 1 1 *"}


def test_a_direct_run_is_recorded_as_manual(processes: Processes, records_file: Path) -> None:
    tasks = {"rec": record_task(records_file, **YEARLY)}
    code, output = processes.manage(["record_run", "--file", str(records_file)], tasks)
    assert code == 0, output
    run = TaskRun.objects.get()
    assert (run.task, run.trigger, run.status, run.exit_code) == (
        "rec",
        Trigger.MANUAL,
        Status.SUCCEEDED,
        0,
    )
    assert run.started_at is not None
    assert run.finished_at is not None
    assert "done" in run.output
    assert "done" in output  # the command's output still reaches the terminal
    assert [r["run"] for r in read_records(records_file) if r["event"] == "start"] == [run.pk]


def test_a_direct_run_in_a_scheduler_dyno_is_recorded_as_scheduler(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"rec": record_task(records_file, **YEARLY)}
    code, output = processes.manage(
        ["record_run", "--file", str(records_file)], tasks, DYNO="scheduler.1234"
    )
    assert code == 0, output
    run = TaskRun.objects.get()
    assert run.trigger == Trigger.SCHEDULER
    assert run.host.startswith("scheduler.1234:")


def test_a_failing_direct_run_is_recorded_failed_and_exits_non_zero(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"rec": record_task(records_file, **YEARLY)}
    code, output = processes.manage(["record_run", "--file", str(records_file), "--fail"], tasks)
    assert code == 1
    assert "asked to fail" in output
    run = TaskRun.objects.get()
    assert run.status == Status.FAILED
    assert run.exit_code == 1
    assert "CommandError: asked to fail (--fail)" in run.error


def test_a_second_direct_run_of_a_forbid_task_is_refused_while_one_runs(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"rec": record_task(records_file, **YEARLY)}
    argv = ["manage.py", "record_run", "--file", str(records_file), "--sleep", "3"]
    first = processes.start(argv, tasks, "first")
    running = wait_for(
        lambda: TaskRun.objects.filter(status=Status.RUNNING, started_at__isnull=False).first(),
        timeout=30,
        what="the first run to start",
    )
    code, output = processes.manage(["record_run", "--file", str(records_file)], tasks)
    assert code == 1
    assert f"rec is already running (run #{running.pk}" in output
    assert "overlap='forbid'" in output
    assert first.wait(30) == 0
    running.refresh_from_db()
    assert running.status == Status.SUCCEEDED
    # The refused attempt executed nothing and left a skipped record.
    assert len([r for r in read_records(records_file) if r["event"] == "start"]) == 1
    refused = TaskRun.objects.exclude(pk=running.pk).get()
    assert (refused.status, refused.trigger) == (Status.SKIPPED, Trigger.MANUAL)


def test_sigterm_to_a_direct_run_interrupts_and_records_it(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"rec": record_task(records_file, **YEARLY)}
    argv = ["manage.py", "record_run", "--file", str(records_file), "--sleep", "60"]
    proc = processes.start(argv, tasks, "manual")
    wait_for(records_file.exists, timeout=30, what="the run to start")
    proc.signal(signal.SIGTERM)
    assert proc.wait(20) != 0
    run = TaskRun.objects.get()
    assert run.status == Status.INTERRUPTED
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()


def test_a_direct_run_that_ignores_sigterm_is_killed_after_the_shutdown_grace(
    processes: Processes, records_file: Path
) -> None:
    # The grace is SCHEDULED_TASKS_SHUTDOWN_GRACE (3 s in the test timings), not
    # a hard-coded 10 s.
    tasks = {"rec": record_task(records_file, **YEARLY)}
    argv = ["manage.py", "record_run", "--file", str(records_file), "--sleep", "60"]
    proc = processes.start([*argv, "--ignore-term"], tasks, "manual")
    wait_for(records_file.exists, timeout=30, what="the run to start")
    signalled = time.monotonic()
    proc.signal(signal.SIGTERM)
    assert proc.wait(20) != 0
    assert time.monotonic() - signalled < 8
    run = TaskRun.objects.get()
    assert run.status == Status.INTERRUPTED
    assert run.exit_code == -signal.SIGKILL


def test_commands_that_are_not_tasks_are_not_recorded(
    processes: Processes, records_file: Path
) -> None:
    code, output = processes.manage(["check"], {"rec": record_task(records_file, **YEARLY)})
    assert code == 0, output
    assert not TaskRun.objects.exists()
