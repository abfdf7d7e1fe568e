"""A Celery worker's warm shutdown fits Heroku's 30 s: SIGTERM mid-run interrupts
the run, records it ``interrupted`` (the worker itself, not the reaper), and the
worker exits 0 within 25 s, leaving no process behind.

Both ways the signal comes: to the worker's main process alone (``kill PID``, a
process manager: the worker passes it on to its pool), and to every process of
the worker's session at once (Heroku signals every process of the dyno, the
run's child included). And a task that ignores SIGTERM: it gets SIGKILL after
``SCHEDULED_TASKS_SHUTDOWN_GRACE``, still inside the 25 s.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from core.models import Status, TaskRun
from tests.brokers import RECEIVED_LINE, host_pid, parent_pid, signal_session
from tests.processes import (
    FAST_TIMINGS,
    Proc,
    Processes,
    process_alive,
    read_records,
    record_task,
    session_members,
    started_run,
)
from tests.support import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.database_server,
    pytest.mark.django_db(transaction=True),
]

GRACE = float(FAST_TIMINGS["SCHEDULED_TASKS_SHUTDOWN_GRACE"])


@pytest.mark.parametrize("task_on_sigterm", ["dies", "ignores it"])
@pytest.mark.parametrize("signalled", ["main process", "whole session"])
def test_sigterm_interrupts_and_records_the_run_and_the_worker_exits_0_within_25_s(
    processes: Processes,
    records_file: Path,
    redis_broker: dict[str, str],
    signalled: str,
    task_on_sigterm: str,
) -> None:
    stubborn = task_on_sigterm == "ignores it"
    tasks = {
        "long": record_task(
            records_file,
            sleep=60,
            beat=True,
            ignore_term=stubborn,
            every=3600,
            starting_deadline=3600,
        )
    }
    worker = processes.worker(tasks, redis_broker)
    clock = processes.clock(tasks, **redis_broker)
    run = started_run("long")
    child = host_pid(run)
    assert parent_pid(parent_pid(child)) == worker.pid
    wait_for(
        lambda: [r for r in read_records(records_file) if r["event"] == "beat"],
        timeout=10,
        what="the run to beat (its SIGTERM handler is set by then)",
    )

    sent = time.monotonic()
    if signalled == "main process":
        worker.signal(signal.SIGTERM)
    else:
        assert child in signal_session(worker.pid, signal.SIGTERM)
    assert worker.wait(25) == 0, worker.output()[-3000:]
    took = time.monotonic() - sent
    assert not session_members({worker.pid}), "the worker left processes behind"
    assert not process_alive(child)

    run.refresh_from_db()
    assert run.status == Status.INTERRUPTED, (run.status, run.error)
    assert "interrupted by shutdown" in run.error
    if stubborn:
        # Asked, then killed once the grace was over.
        assert run.exit_code == -signal.SIGKILL
        assert took >= GRACE - 0.1, took
    else:
        assert run.exit_code == -signal.SIGTERM  # it stopped when asked, before any SIGKILL
    assert run.finished_at is not None
    assert f"finished long run #{run.pk}: interrupted" in worker.output()
    events = [r["event"] for r in read_records(records_file) if r["event"] != "beat"]
    assert events == ["start"]  # cut short, executed once

    # The clock neither reaped it nor ran the task again.
    assert "abandoned" not in clock.output()
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0
    assert TaskRun.objects.count() == 1


def worker_node(worker: Proc) -> str:
    """The worker's node name, from its "NAME ready." line."""
    match = re.search(r"(\S+@\S+) ready\.", worker.output())
    assert match, worker.output()[-2000:]
    return match.group(1)


def task_id_of(worker: Proc, run: TaskRun) -> str:
    """The Celery task id of the message that started ``run`` on ``worker`` (from its log)."""
    wait_for(
        lambda: f"run #{run.pk} in pid" in worker.output(), timeout=10, what="the start's log line"
    )
    lines = worker.output().splitlines()
    started = next(i for i, line in enumerate(lines) if f"run #{run.pk} in pid" in line)
    received = [
        re.search(r"execute_run\[([0-9a-f-]+)\] received", line) for line in lines[:started]
    ]
    return [m for m in received if m][-1].group(1)


def test_a_run_terminated_through_celery_control_is_interrupted_and_the_worker_runs_the_next(
    processes: Processes, records_file: Path, redis_broker: dict[str, str]
) -> None:
    # ``control revoke --terminate`` SIGTERMs the pool process running the task, not the
    # worker: the run is interrupted and recorded, the worker lives on and runs what follows.
    from celery import Celery
    from django.test import override_settings

    from core.scheduling import request_run

    tasks = {"long": record_task(records_file, sleep=60, beat=True, schedule="0 0 1 1 *")}
    worker = processes.worker(tasks, redis_broker)
    clock = processes.clock(tasks, **redis_broker)
    with override_settings(SCHEDULED_TASKS=tasks):
        request_run("long")
    run = started_run("long")
    wait_for(lambda: read_records(records_file), timeout=10, what="the run to start")
    app = Celery("test-control", broker=redis_broker["CELERY_BROKER_URL"])
    try:
        app.control.revoke(
            task_id_of(worker, run), terminate=True, destination=[worker_node(worker)]
        )
    finally:
        app.close()
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status=Status.INTERRUPTED).first(),
        timeout=15,
        what="the terminated run to be recorded interrupted",
    )
    assert run.exit_code == -signal.SIGTERM
    assert worker.popen.poll() is None

    # The next run: started by this worker, not refused, not left queued.
    with override_settings(SCHEDULED_TASKS=tasks):
        second = request_run("long")
    second = wait_for(
        # Started: its child has stamped the row with its own pid.
        lambda: TaskRun.objects.filter(
            pk=second.pk, status=Status.RUNNING, started_at__isnull=False
        ).first(),
        timeout=15,
        what="the next run to start on the same worker",
    )
    assert parent_pid(parent_pid(host_pid(second))) == worker.pid
    for proc in (worker, clock):
        proc.signal(signal.SIGTERM)
    assert worker.wait(25) == 0
    assert clock.wait(25) == 0
    second.refresh_from_db()
    assert second.status == Status.INTERRUPTED


def test_a_message_waiting_in_a_stopping_worker_is_not_lost(
    processes: Processes, records_file: Path, rabbitmq_broker: dict[str, str]
) -> None:
    # The worker's one process runs "long"; the message for "short" waits in it
    # (prefetched: RabbitMQ; on Redis a busy worker takes no message, see
    # test_celery_busy_worker). The dyno stops: the long run is interrupted, and
    # "short" runs on the next worker at once, not after
    # SCHEDULED_TASKS_DISPATCH_TIMEOUT (300 s).
    from django.test import override_settings

    from core.scheduling import request_run

    tasks = {
        "long": record_task(records_file, sleep=60, beat=True, schedule="0 0 1 1 *"),
        "short": record_task(records_file, sleep=0.1, schedule="0 0 1 1 *"),
    }
    first = processes.worker(tasks, rabbitmq_broker, name="first")
    clock = processes.clock(tasks, **rabbitmq_broker)
    with override_settings(SCHEDULED_TASKS=tasks):
        request_run("long")
        long_run = started_run("long")
        short = request_run("short")
    wait_for(
        lambda: TaskRun.objects.filter(pk=short.pk, dispatches=1).exists(),
        timeout=10,
        what="the short run to be sent",
    )
    wait_for(
        lambda: len(RECEIVED_LINE.findall(first.output())) == 2,
        timeout=10,
        what="the first worker to take the second message",
    )
    signal_session(first.pid, signal.SIGTERM)
    assert first.wait(25) == 0, first.output()[-3000:]
    long_run.refresh_from_db()
    assert long_run.status == Status.INTERRUPTED

    second = processes.worker(tasks, rabbitmq_broker, name="second")
    short = wait_for(
        lambda: TaskRun.objects.filter(pk=short.pk, status=Status.SUCCEEDED).first(),
        timeout=20,
        what="the short run to succeed on the second worker",
    )
    assert f"started short run #{short.pk}" in second.output()
    assert [r["run"] for r in read_records(records_file) if r["event"] == "start"] == [
        long_run.pk,
        short.pk,
    ]
    for proc in (second, clock):
        proc.signal(signal.SIGTERM)
    assert second.wait(25) == 0
    assert clock.wait(25) == 0
