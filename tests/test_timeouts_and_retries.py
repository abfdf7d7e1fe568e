"""Guarantees 4 and 5 with real processes: a task past its timeout is stopped
(SIGTERM, then SIGKILL) and recorded ``timed_out``; a failing task is retried
``retries`` times, ``retry_delay`` apart, then left alone."""

from __future__ import annotations

import itertools
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from core.models import Status, TaskRun, Trigger
from tests.processes import Processes, read_records, record_task, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Due once now (today's epoch-aligned tick, still inside its deadline), then not for a day.
DAILY = {"every": 86400, "starting_deadline": 86400}


def test_a_task_past_its_timeout_is_terminated_and_recorded_timed_out(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"hang": record_task(records_file, sleep=60, timeout=1, **DAILY)}
    code, output = processes.manage(["runtasks"], tasks)
    assert code != 0
    run_id = TaskRun.objects.get(task="hang").pk
    assert f"hang run #{run_id} timed_out: timed out after 1 s; stopped with SIGTERM" in output
    run = TaskRun.objects.get(task="hang")
    assert run.status == Status.TIMED_OUT
    assert run.exit_code == -signal.SIGTERM
    assert "timed out after 1 s" in run.error
    assert [r["event"] for r in read_records(records_file)] == ["start"]


def test_a_task_ignoring_sigterm_is_killed_after_the_kill_grace(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"hang": record_task(records_file, sleep=60, timeout=1, ignore_term=True, **DAILY)}
    code, output = processes.manage(["runtasks"], tasks, SCHEDULED_TASKS_KILL_GRACE="1.5")
    assert code != 0, output
    run = TaskRun.objects.get(task="hang")
    assert run.status == Status.TIMED_OUT
    assert run.exit_code == -signal.SIGKILL
    assert run.started_at is not None
    assert run.finished_at is not None
    # SIGTERM came at the timeout (1 s after the fork) and was ignored; SIGKILL
    # only after the 1.5 s grace. The child stamps started_at a little after the
    # fork but before the SIGTERM, so at least the grace lies between the two.
    assert run.finished_at - run.started_at >= timedelta(seconds=1.5)


def test_a_failing_task_is_retried_as_new_attempts_then_left_alone(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"flaky": record_task(records_file, fail=True, retries=2, retry_delay=1.5, **DAILY)}
    clock = processes.clock(tasks)
    finished = TaskRun.objects.filter(task="flaky", finished_at__isnull=False)
    wait_for(lambda: finished.count() >= 3, timeout=40, what="three attempts")
    time.sleep(4)  # more than a retry delay and two polls: no fourth attempt comes
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0

    runs = list(TaskRun.objects.filter(task="flaky").order_by("attempt"))
    assert [r.attempt for r in runs] == [1, 2, 3]
    assert [r.trigger for r in runs] == [Trigger.CLOCK, Trigger.RETRY, Trigger.RETRY]
    assert {r.status for r in runs} == {Status.FAILED}
    assert len({r.scheduled_for for r in runs}) == 1  # attempts of the same tick
    assert all("asked to fail" in r.error for r in runs)
    for before, after in itertools.pairwise(runs):
        assert before.finished_at is not None
        assert after.started_at is not None
        assert after.started_at - before.finished_at >= timedelta(seconds=1.5)
    assert len([r for r in read_records(records_file) if r["event"] == "start"]) == 3
