"""``runtasks`` (the Heroku Scheduler's command): runs what is due, waits, and
says through its exit status whether everything it ran succeeded."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from core.models import Status, TaskRun, Trigger
from tests.processes import Processes, read_records, record_task

# Due once now (today's epoch-aligned tick, inside its deadline), then not for a day.
DAILY = {"every": 86400, "starting_deadline": 86400}
YEARLY = {"schedule": "0 0 1 1 *", "starting_deadline": 0}


def runtasks(tasks: dict[str, Any], *args: str) -> str:
    out = StringIO()
    with override_settings(SCHEDULED_TASKS=tasks):
        call_command("runtasks", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_it_runs_what_is_due_and_exits_normally_when_all_succeeded(records_file: Path) -> None:
    tasks = {
        "due": record_task(records_file, **DAILY),
        "later": record_task(records_file, **YEARLY),
    }
    output = runtasks(tasks)
    run = TaskRun.objects.get()
    assert (run.task, run.status, run.trigger) == ("due", Status.SUCCEEDED, Trigger.SCHEDULER)
    assert f"due run #{run.pk}: succeeded" in output
    assert [r["run"] for r in read_records(records_file) if r["event"] == "start"] == [run.pk]
    # Run again at once: the tick is taken, nothing is due.
    assert "nothing due" in runtasks(tasks)
    assert TaskRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_raises_command_error_when_a_task_it_ran_failed(records_file: Path) -> None:
    tasks = {
        "bad": record_task(records_file, fail=True, **DAILY),
        "good": record_task(records_file, **DAILY),
    }
    with pytest.raises(
        CommandError,
        match=r"1 of 2 task run\(s\) did not succeed: "
        r"bad run #\d+ failed: asked to fail \(--fail\)",
    ):
        runtasks(tasks)
    statuses = dict(TaskRun.objects.values_list("task", "status"))
    assert statuses == {"bad": Status.FAILED, "good": Status.SUCCEEDED}
    assert "asked to fail" in TaskRun.objects.get(task="bad").error


@pytest.mark.django_db
def test_dry_run_prints_decisions_and_runs_nothing(records_file: Path) -> None:
    tasks = {
        "due": record_task(records_file, **DAILY),
        "later": record_task(records_file, **YEARLY),
    }
    output = runtasks(tasks, "--dry-run")
    lines = output.splitlines()
    assert any(line.startswith("due: run tick ") for line in lines), output
    assert any(line.startswith("later: idle (next ") for line in lines), output
    assert not TaskRun.objects.exists()
    assert not records_file.exists()


@pytest.mark.django_db(transaction=True)
def test_force_runs_a_named_task_now_whatever_its_schedule(records_file: Path) -> None:
    tasks = {
        "later": record_task(records_file, **YEARLY),
        "other": record_task(records_file, **DAILY),
    }
    before = timezone.now()
    output = runtasks(tasks, "later", "--force")
    run = TaskRun.objects.get()
    assert run.task == "later"
    assert run.status == Status.SUCCEEDED
    assert run.trigger == Trigger.MANUAL  # not inside a Scheduler dyno
    assert before <= run.scheduled_for <= timezone.now()
    assert "later run #" in output
    assert len(read_records(records_file)) == 2  # start and end of one execution


@pytest.mark.django_db
def test_force_without_names_is_refused(records_file: Path) -> None:
    with pytest.raises(CommandError, match="--force needs the names"):
        runtasks({"later": record_task(records_file, **YEARLY)}, "--force")


@pytest.mark.django_db
def test_unknown_names_are_refused_with_the_known_ones_listed(records_file: Path) -> None:
    tasks = {
        "alpha": record_task(records_file, **YEARLY),
        "beta": record_task(records_file, **YEARLY),
    }
    with pytest.raises(
        CommandError, match=r"unknown task\(s\): gamma\. Known tasks: alpha, beta\."
    ):
        runtasks(tasks, "alpha", "gamma")
    assert not TaskRun.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_process_exit_status_reflects_the_outcome(
    processes: Processes, records_file: Path
) -> None:
    ok = {"ok": record_task(records_file, **DAILY)}
    code, output = processes.manage(["runtasks"], ok)
    assert code == 0, output
    bad = {"bad": record_task(records_file, fail=True, **DAILY)}
    code, output = processes.manage(["runtasks"], bad)
    assert code == 1
    # The closing line names the reason, not only the status.
    run = TaskRun.objects.get(task="bad")
    assert output.rstrip().splitlines()[-1] == (
        f"CommandError: 1 of 1 task run(s) did not succeed: bad run #{run.pk} failed: "
        "asked to fail (--fail)"
    )
