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


def sleeping_in_its_selector(pid: int) -> bool:
    """Whether ``pid`` is blocked in epoll_wait: the clock's sleep between steps (the
    database driver waits in poll(), so a query in flight does not look like this)."""
    try:
        return "epoll" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


def test_sigterm_wakes_an_idle_clock_at_once_not_at_its_next_poll(
    processes: Processes, records_file: Path
) -> None:
    # Asleep, this clock would next wake in 60 s (its poll; the task ticks once a
    # year, on 1 January): only the signal can explain an exit within the bound.
    poll, bound = 60, 5
    tasks = {"yearly": record_task(records_file, schedule="0 0 1 1 *")}
    clock = processes.clock(tasks, SCHEDULED_TASKS_POLL=str(poll))
    wait_for(lambda: "clock started" in clock.output(), timeout=30, what="the clock to start")
    wait_for(lambda: sleeping_in_its_selector(clock.pid), timeout=30, what="the clock to sleep")
    sent = time.monotonic()
    clock.signal(signal.SIGTERM)
    assert clock.wait(poll / 2) == 0, clock.output()[-3000:]
    assert time.monotonic() - sent < bound
    assert "clock stopped" in clock.output()
    assert not TaskRun.objects.exists()
