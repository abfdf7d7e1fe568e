"""manage.py tasks: the table, --json and --check's exit status."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings

from core.models import Status, Task
from tests.ops_helpers import TASKS, make_run, utc

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_declared", "frozen")]
NOW = utc(2026, 5, 1, 12, 5)


@pytest.fixture
def tasks_declared():
    with override_settings(SCHEDULED_TASKS=TASKS):
        yield


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def run_tasks(*args: str) -> str:
    out = StringIO()
    call_command("tasks", *args, stdout=out, no_color=True)
    return out.getvalue()


def test_the_table_lists_each_task_with_schedule_next_tick_and_last_run():
    make_run("nightly", utc(2026, 5, 1, 3), Status.SUCCEEDED)
    output = run_tasks()
    lines = output.splitlines()
    assert lines[0].split() == [
        "task", "schedule", "next", "tick", "last", "run", "status", "fails", "flags"
    ]  # fmt: skip
    nightly = next(line for line in lines if line.startswith("nightly"))
    assert "At 03:00 every day" in nightly
    assert "2026-05-02 03:00 UTC" in nightly
    assert "2026-05-01 03:00 UTC (clock)" in nightly
    assert "succeeded" in nightly
    often = next(line for line in lines if line.startswith("often"))
    assert "every 10 minutes" in often
    assert "never" in often


def test_the_table_explains_flags():
    make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED)
    output = run_tasks()
    assert "nightly: 1 consecutive failure" in output
    assert "failing" in next(line for line in output.splitlines() if line.startswith("nightly"))


def test_json_is_a_stable_list_of_objects():
    make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED, exit_code=2)
    data = json.loads(run_tasks("--json"))
    assert [task["name"] for task in data] == ["nightly", "often"]
    nightly = data[0]
    assert set(nightly) == {
        "name", "schedule", "enabled", "enabled_in_settings", "enabled_in_admin", "next_tick",
        "last_run", "consecutive_failures", "failing", "overdue", "missed", "ok", "problems",
    }  # fmt: skip
    assert nightly["next_tick"] == "2026-05-02T03:00:00+00:00"
    assert nightly["last_run"] == {
        "scheduled_for": "2026-05-01T03:00:00+00:00",
        "attempt": 1,
        "trigger": "clock",
        "status": "failed",
        "started_at": "2026-05-01T03:00:02+00:00",
        "finished_at": "2026-05-01T03:00:30+00:00",
        "exit_code": 2,
    }
    assert nightly["failing"] is True
    assert nightly["ok"] is False
    assert data[1]["ok"] is True


def test_check_passes_when_every_task_is_ok():
    make_run("nightly", utc(2026, 5, 1, 3), Status.SUCCEEDED)
    assert run_tasks("--check").strip() == "all 2 tasks OK"


def test_check_fails_naming_a_failing_task():
    make_run("nightly", utc(2026, 5, 1, 3), Status.TIMED_OUT)
    with pytest.raises(CommandError) as info:
        run_tasks("--check")
    message = str(info.value)
    assert message.startswith("1 of 2 tasks need attention: nightly (1 consecutive failure)")
    assert "often" not in message
    assert "\n" not in message


def test_check_fails_for_overdue_and_missed_tasks():
    # often ran at 11:00 and nothing since: the 11:10...11:50 ticks were never handled.
    make_run("often", utc(2026, 5, 1, 11, 0), Status.SUCCEEDED)
    make_run("nightly", utc(2026, 5, 1, 3), Status.MISSED)
    with pytest.raises(CommandError, match=r"2 of 2 tasks.*nightly \(missed ticks\).*often \("):
        run_tasks("--check")


def test_check_ignores_disabled_tasks():
    make_run("nightly", utc(2026, 5, 1, 3), Status.FAILED)
    Task.objects.create(name="nightly", enabled=False)
    assert "all 2 tasks OK" in run_tasks("--check")
    with override_settings(
        SCHEDULED_TASKS={**TASKS, "nightly": {**TASKS["nightly"], "enabled": False}}
    ):
        Task.objects.filter(name="nightly").update(enabled=True)
        assert "all 2 tasks OK" in run_tasks("--check")
        assert "disabled; failing" in run_tasks()


def test_check_with_json_prints_json_and_still_fails():
    make_run("nightly", utc(2026, 5, 1, 3) - timedelta(days=1), Status.FAILED)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("tasks", "--json", "--check", stdout=out)
    assert json.loads(out.getvalue())[0]["failing"] is True


def test_no_declared_tasks_is_said_plainly():
    with override_settings(SCHEDULED_TASKS={}):
        assert run_tasks().strip() == "No tasks declared in SCHEDULED_TASKS."
        assert run_tasks("--check").strip() == "all 0 tasks OK"
