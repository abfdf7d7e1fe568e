"""The clock on SIGTERM (a Heroku restart or deploy): it interrupts what runs,
records it, leaves nothing ``running`` and exits 0 well inside Heroku's 30 s."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from core.models import Status, TaskRun
from tests.processes import Processes, process_alive, record_task, started_run, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_sigterm_interrupts_the_running_task_records_it_and_exits_0(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"slow": record_task(records_file, every=2, sleep=60)}
    clock = processes.clock(tasks)
    run = started_run("slow")
    child = int(run.host.rsplit(":", 1)[1])
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0, clock.output()[-3000:]
    run.refresh_from_db()
    assert run.status == Status.INTERRUPTED
    assert run.exit_code == -signal.SIGTERM
    assert run.finished_at is not None
    assert not process_alive(child)
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()
    assert "clock stopped" in clock.output()


def test_sigterm_kills_a_task_that_ignores_it_after_the_shutdown_grace(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"stubborn": record_task(records_file, every=2, sleep=60, ignore_term=True)}
    clock = processes.clock(tasks, SCHEDULED_TASKS_SHUTDOWN_GRACE="2")
    run = started_run("stubborn")
    wait_for(lambda: records_file.exists(), timeout=10, what="the task to ignore SIGTERM")
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0, clock.output()[-3000:]
    run.refresh_from_db()
    assert run.status == Status.INTERRUPTED
    assert run.exit_code == -signal.SIGKILL
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()


def test_sigterm_stops_an_idle_clock_at_once(processes: Processes, records_file: Path) -> None:
    tasks = {"yearly": record_task(records_file, schedule="0 0 1 1 *")}
    clock = processes.clock(tasks)
    wait_for(lambda: "clock started" in clock.output(), timeout=30, what="the clock to start")
    sent = time.monotonic()
    clock.signal(signal.SIGTERM)
    # Its sleep is interrupted by the signal: it does not wait for the next poll or tick.
    assert clock.wait(10) == 0, clock.output()[-3000:]
    assert time.monotonic() - sent < 10
    assert not TaskRun.objects.exists()
