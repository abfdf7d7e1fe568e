"""A worker busy with a long run does not sit on the next runs' messages (Redis).

Messages are acknowledged when a run starts, so a worker whose only process
runs a long task has room for one more message under a prefetch of one; it
would take it and hold it until the long run ends (or until
``SCHEDULED_TASKS_DISPATCH_TIMEOUT`` sends it again), while another worker is
idle. ``worker_disable_prefetch`` (``spojscore/celery.py``) makes a worker take
a message only when a process is free: every short run starts at once on the
idle worker.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from django.test import override_settings

from core.models import Status, TaskRun
from tests.brokers import RECEIVED_LINE, host_pid, worker_of
from tests.processes import Processes, read_records, record_task, started_run
from tests.support import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.database_server,
    pytest.mark.django_db(transaction=True),
]


def test_runs_sent_while_a_worker_is_busy_start_at_once_on_the_idle_one(
    processes: Processes, records_file: Path, redis_broker: dict[str, str]
) -> None:
    from core.scheduling import request_run

    tasks = {
        "long": record_task(records_file, sleep=60, schedule="0 0 1 1 *"),
        "short": record_task(records_file, sleep=0.1, overlap="allow", schedule="0 0 1 1 *"),
    }
    workers = [processes.worker(tasks, redis_broker, name=f"w{i}") for i in range(2)]
    clock = processes.clock(tasks, **redis_broker)
    with override_settings(SCHEDULED_TASKS=tasks):
        request_run("long")
        busy = worker_of(workers, host_pid(started_run("long")))
        idle = next(w for w in workers if w is not busy)
        # One at a time, each sent before the next: the busy worker has room for each.
        for _ in range(4):
            sent = TaskRun.objects.filter(pk=request_run("short").pk, dispatches=1)
            wait_for(sent.exists, timeout=10, what="the short run to be sent")
            time.sleep(0.2)
    wait_for(
        lambda: TaskRun.objects.filter(task="short", status=Status.SUCCEEDED).count() == 4,
        timeout=15,  # the long run has 50 s to go
        what=f"the short runs to run on the idle worker (the busy one received "
        f"{len(RECEIVED_LINE.findall(busy.output()))} messages)",
    )
    assert len(RECEIVED_LINE.findall(busy.output())) == 1  # only its long run's
    assert idle.output().count("started short run #") == 4
    assert TaskRun.objects.get(task="long").status == Status.RUNNING
    assert len([r for r in read_records(records_file) if r["event"] == "start"]) == 5
    for proc in (clock, *workers):
        proc.signal(signal.SIGTERM)
    for proc in (clock, *workers):
        assert proc.wait(25) == 0
