"""The celery executor with real workers and a real broker (Redis and RabbitMQ).

A clock with ``SCHEDULED_TASKS_EXECUTOR=celery`` only dispatches; a ``celery
-A spojscore worker`` executes: its supervised child stamps the row, the row
records the worker's host, and the side effects (``record_run``'s file) match
the rows one for one. A message published again for a finished run starts
nothing.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from core.models import Status, TaskRun
from tests.processes import Processes, read_records, record_task
from tests.support import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_clock_dispatches_and_a_worker_executes(
    processes: Processes, records_file: Path, broker: dict[str, str]
) -> None:
    tasks = {"rec": record_task(records_file, every=1, sleep=0.2)}
    worker = processes.worker(tasks, broker)
    clock = processes.clock(tasks, **broker)

    wait_for(
        lambda: TaskRun.objects.filter(status=Status.SUCCEEDED).count() >= 3,
        timeout=60,
        what="three succeeded runs",
    )
    clock.signal(signal.SIGTERM)
    assert clock.wait(30) == 0
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0

    starts = [r for r in read_records(records_file) if r["event"] == "start"]
    runs = list(TaskRun.objects.filter(status=Status.SUCCEEDED))
    assert len(runs) >= 3
    # One execution per succeeded row, none without a row.
    assert sorted(r["run"] for r in starts) == sorted(run.pk for run in runs)
    for run in runs:
        assert run.executor == "celery"
        assert run.dispatches == 1
        assert run.started_at is not None
        assert run.finished_at is not None
        # Executed by the worker's child, not by the clock.
        host_pid = int(run.host.rsplit(":", 1)[1])
        assert host_pid not in (clock.pid, worker.pid)
        assert any(r["pid"] == host_pid for r in starts if r["run"] == run.pk)
    assert "sent rec run" in clock.output()
    assert "started rec run" in worker.output()
    assert "started rec run" not in clock.output()


def test_a_message_published_again_starts_nothing(
    processes: Processes, records_file: Path, broker: dict[str, str]
) -> None:
    from tests.brokers import publish_from_test

    tasks = {"rec": record_task(records_file, every=3600, sleep=0.5)}
    worker = processes.worker(tasks, broker, concurrency=2)
    code, out = processes.manage(["runtasks", "--force", "rec"], tasks, 60, **broker)
    assert code == 0, out
    run = TaskRun.objects.get(task="rec")
    assert f"rec run #{run.pk}: sent to the workers" in out
    # Twice more while it runs, and once more after it finished.
    publish_from_test(broker, run.pk, times=2)
    wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status=Status.SUCCEEDED).exists(),
        timeout=30,
        what="the run to succeed",
    )
    publish_from_test(broker, run.pk, times=1)
    wait_for(
        lambda: worker.output().count("duplicate or late message ignored") >= 3,
        timeout=30,
        what="the worker to ignore three duplicates",
    )
    starts = [r for r in read_records(records_file) if r["event"] == "start"]
    assert [r["run"] for r in starts] == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
