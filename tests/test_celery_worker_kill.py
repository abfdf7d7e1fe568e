"""Guarantee 4 with real Celery workers: a worker SIGKILLed mid-run (a vanished
dyno) leaves its run to the reaper, which records it ``abandoned`` within the
stale window; the task's policy (``retries=1``) then runs it again on another
worker, and never beside the first execution.

Two ways to die: every process of the worker's session at once (the dyno is
gone), and the worker's main process alone — then the kernel must take its pool
process and the run's child with it (PR_SET_PDEATHSIG on both), or the orphan
would go on running the task while the retry runs it again.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from core.models import Status, TaskRun, Trigger
from tests.brokers import (
    celery_env,
    host_pid,
    parent_pid,
    require_broker,
    signal_session,
    worker_of,
)
from tests.processes import (
    FAST_TIMINGS,
    Processes,
    process_alive,
    read_records,
    record_task,
    started_run,
)
from tests.support import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.database_server,
    pytest.mark.django_db(transaction=True),
]

STALE_AFTER = float(FAST_TIMINGS["SCHEDULED_TASKS_STALE_AFTER"])


@pytest.mark.parametrize(
    ("broker_name", "victim_processes"),
    [
        ("redis", "whole session"),
        pytest.param("rabbitmq", "whole session", marks=pytest.mark.rabbitmq),
        # The kernel's part (PR_SET_PDEATHSIG) does not depend on the broker.
        ("redis", "main process only"),
    ],
)
def test_a_killed_workers_run_is_abandoned_in_the_stale_window_and_retried_on_another_worker(
    processes: Processes, records_file: Path, broker_name: str, victim_processes: str
) -> None:
    broker = celery_env(require_broker(broker_name))
    # An hourly task whose latest tick is due at once, retried at once if it fails.
    tasks = {
        "long": record_task(
            records_file,
            sleep=4,
            beat=True,
            every=3600,
            starting_deadline=3600,
            retries=1,
            retry_delay=0,
        )
    }
    workers = [processes.worker(tasks, broker, name=f"w{i}") for i in range(2)]
    clock = processes.clock(tasks, **broker)
    run = started_run("long")
    child = host_pid(run)
    victim = worker_of(workers, child)
    survivor = next(worker for worker in workers if worker is not victim)
    pool = parent_pid(child)
    assert parent_pid(pool) == victim.pid  # worker -> pool process -> the run's child
    wait_for(
        lambda: [r for r in read_records(records_file) if r["event"] == "beat"],
        timeout=10,
        what="the first execution to beat",
    )

    killed = time.monotonic()
    if victim_processes == "whole session":
        assert {victim.pid, pool, child} <= set(signal_session(victim.pid, signal.SIGKILL))
    else:
        victim.signal(signal.SIGKILL)
    assert victim.wait(10) == -signal.SIGKILL
    # Nothing of the dead worker runs on: no orphan pool process, no orphan task.
    wait_for(
        lambda: not process_alive(pool) and not process_alive(child),
        timeout=5,
        what=f"the pool process {pool} and the run's child {child} to die",
    )

    run = wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status=Status.ABANDONED).first(),
        timeout=15,
        what="the killed run to be recorded abandoned",
    )
    reaped_after = time.monotonic() - killed
    # Within the stale window: not before its last heartbeat was STALE_AFTER old
    # (finished_at is the reaping clock's time, heartbeat_at the database's: one
    # machine; SQLite keeps milliseconds), and soon after (the clock steps every 0.5 s).
    assert run.finished_at is not None
    assert run.heartbeat_at is not None
    assert (run.finished_at - run.heartbeat_at).total_seconds() >= STALE_AFTER - 0.01
    assert reaped_after < STALE_AFTER + 4, reaped_after
    assert "no heartbeat since" in run.error
    assert run.exit_code is None

    # retries=1: attempt 2 of the same tick, executed to its end by the other worker.
    retry = wait_for(
        lambda: TaskRun.objects.filter(
            task="long", scheduled_for=run.scheduled_for, attempt=2, status=Status.SUCCEEDED
        ).first(),
        timeout=30,
        what="the retry to succeed",
    )
    assert (retry.trigger, retry.executor) == (Trigger.RETRY, "celery")
    records = read_records(records_file)
    first = [r for r in records if r["pid"] == child]
    second = [r for r in records if r.get("attempt") == 2]
    assert [r["event"] for r in first if r["event"] != "beat"] == ["start"]  # cut short
    assert [r["event"] for r in second if r["event"] != "beat"] == ["start", "end"]
    assert {r["pid"] for r in second} == {host_pid(retry)}
    # Never two at once: the first execution's last sign of life precedes the retry's start.
    assert max(r["t"] for r in first) < second[0]["t"]
    # Two executions in all, one per attempt.
    assert sorted(r["attempt"] for r in records if r["event"] == "start") == [1, 2]
    assert f"started long run #{retry.pk} in pid {host_pid(retry)}" in survivor.output()

    clock.signal(signal.SIGTERM)
    survivor.signal(signal.SIGTERM)
    assert clock.wait(25) == 0
    assert survivor.wait(25) == 0
    assert not TaskRun.objects.filter(status__in=[Status.RUNNING, Status.QUEUED]).exists()
