"""A task's options hold when Celery workers execute it (Redis): ``overlap="forbid"``
across workers, the ``timeout`` (SIGTERM, then SIGKILL, to the task's whole
process group), and runs asked for from the admin ("run now") and from code
(``request_run(task, args)``, whose arguments reach the command).
"""

from __future__ import annotations

import itertools
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from core.models import Status, Task, TaskRun, Trigger
from core.scheduling.config import parse_task
from tests.brokers import host_pid, parent_pid
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

NEVER = "0 0 1 1 *"  # a yearly tick: runs only when asked for


def intervals(records: list[dict[str, Any]], task: str) -> list[tuple[float, float]]:
    """(start, end) of each execution of ``task``; one cut short never ends."""
    starts = {r["run"]: r["t"] for r in records if r["task"] == task and r["event"] == "start"}
    ends = {r["run"]: r["t"] for r in records if r["task"] == task and r["event"] == "end"}
    return sorted((t, ends.get(run, float("inf"))) for run, t in starts.items())


def assert_one_at_a_time(records_file: Path, task: str) -> list[tuple[float, float]]:
    runs = intervals(read_records(records_file), task)
    for (_, end), (start, _) in itertools.pairwise(runs):
        assert start >= end, f"{task} runs overlapped: {runs}"
    return runs


def test_a_forbid_task_never_runs_twice_at_once_across_workers(
    processes: Processes, records_file: Path, redis_broker: dict[str, str]
) -> None:
    # Each run lasts 1.5 ticks; ticks that find it running are skipped by the
    # clocks' claim. Freezing the workers' main processes (their pool processes
    # and the running child go on) lets ticks queue up once the run ends; on
    # waking, the workers race for them and the database lets one run start.
    entry = record_task(records_file, every=1, sleep=1.5, overlap="forbid", starting_deadline=30)
    tasks = {"forbid": entry}
    spec = parse_task("forbid", entry, "UTC")
    seed = spec.ticks_between(timezone.now() - timedelta(seconds=2), timezone.now())[-1]
    TaskRun.objects.create(
        task="forbid", scheduled_for=seed, trigger=Trigger.CLOCK, status=Status.SUCCEEDED
    )
    workers = [processes.worker(tasks, redis_broker, name=f"w{i}") for i in range(3)]
    clocks = [processes.clock(tasks, name=f"clock{i}", **redis_broker) for i in range(2)]
    rows = TaskRun.objects.filter(task="forbid", scheduled_for__gt=seed)
    running = started_run("forbid")
    for worker in workers:
        worker.signal(signal.SIGSTOP)
    try:
        wait_for(
            lambda: (
                rows.filter(pk=running.pk, status=Status.SUCCEEDED).exists()
                and rows.filter(status=Status.QUEUED).count() >= 3
            ),
            timeout=20,
            what="the run to end and three ticks to queue up behind the frozen workers",
        )
    finally:
        for worker in workers:
            worker.signal(signal.SIGCONT)
    wait_for(
        lambda: any(
            "still running" in w.output() and "skipped forbid run" in w.output() for w in workers
        ),
        timeout=20,
        what="a worker to skip a queued tick it lost to another worker",
    )
    wait_for(
        lambda: rows.filter(status=Status.SUCCEEDED).count() >= 3,
        timeout=30,
        what="three runs executed",
    )

    def between_runs() -> bool:
        return not rows.filter(status__in=[Status.QUEUED, Status.RUNNING]).exists()

    for clock in clocks:  # stop claiming, then let the last run end
        clock.signal(signal.SIGTERM)
    for clock in clocks:
        assert clock.wait(25) == 0, clock.output()[-3000:]
    wait_for(between_runs, timeout=20, what="the last run to end")
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(25) == 0, worker.output()[-3000:]

    executions = assert_one_at_a_time(records_file, "forbid")
    ran = list(rows.exclude(started_at=None).order_by("started_at"))
    assert len(executions) == len(ran) >= 3
    for before, after in itertools.pairwise(ran):
        assert before.finished_at is not None
        assert after.started_at is not None
        assert after.started_at >= before.finished_at
    # Every tick claimed is recorded: executed, or skipped because the task was running.
    statuses = set(rows.values_list("status", flat=True))
    assert statuses <= {Status.SUCCEEDED, Status.SKIPPED, Status.INTERRUPTED}, statuses
    skipped = list(rows.filter(status=Status.SKIPPED))
    assert len(skipped) >= 2
    assert all("still running" in run.error for run in skipped)
    # Some were skipped by a worker: queued, sent, and then beaten to the start.
    skipped_by_workers = [r for r in skipped if r.executor == "celery" and r.dispatches]
    assert skipped_by_workers, [(r.pk, r.executor, r.dispatches) for r in skipped]


def test_a_timeout_on_a_worker_kills_the_tasks_whole_process_group(
    processes: Processes, records_file: Path, redis_broker: dict[str, str]
) -> None:
    # The task and its own child both ignore SIGTERM: only the SIGKILL of the
    # group, KILL_GRACE after the SIGTERM, ends them.
    timeout = 1.5
    grace = float(FAST_TIMINGS["SCHEDULED_TASKS_KILL_GRACE"])
    tasks = {
        "stuck": record_task(
            records_file,
            sleep=60,
            ignore_term=True,
            grandchild=True,
            timeout=timeout,
            every=3600,
            starting_deadline=3600,
        )
    }
    worker = processes.worker(tasks, redis_broker)
    clock = processes.clock(tasks, **redis_broker)
    run = started_run("stuck")
    start = wait_for(lambda: read_records(records_file), timeout=10, what="the task to start")[0]
    grandchild = start["grandchild"]
    assert process_alive(grandchild)
    pool = parent_pid(host_pid(run))
    assert parent_pid(pool) == worker.pid
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status=Status.TIMED_OUT).first(),
        timeout=20,
        what="the run to time out",
    )
    assert run.exit_code == -signal.SIGKILL
    assert f"timed out after {timeout:g} s; stopped with SIGKILL" in run.error
    assert run.started_at is not None
    assert run.finished_at is not None
    # Killed KILL_GRACE after the SIGTERM at its timeout (counted from the fork,
    # a little before the child stamped started_at), not before the timeout.
    took = (run.finished_at - run.started_at).total_seconds()
    assert timeout < took < timeout + grace + 5, took
    wait_for(lambda: not process_alive(grandchild), timeout=5, what="the task's child to die")
    assert [r["event"] for r in read_records(records_file)] == ["start"]
    assert "passed its timeout of 1.5s; terminating" in worker.output()
    # The worker and its pool process are unharmed.
    assert process_alive(pool)
    assert worker.popen.poll() is None
    for proc in (clock, worker):
        proc.signal(signal.SIGTERM)
    assert clock.wait(25) == 0
    assert worker.wait(25) == 0


def test_run_now_in_the_admin_is_executed_by_a_worker(
    processes: Processes, records_file: Path, redis_broker: dict[str, str], operator_client: Client
) -> None:
    tasks = {"rec": record_task(records_file, schedule=NEVER)}
    with override_settings(SCHEDULED_TASKS=tasks):
        operator_client.get(reverse("admin:core_task_changelist"))  # creates the Task rows
        task = Task.objects.get(name="rec")
        response = operator_client.post(reverse("admin:core_task_run", args=[task.pk]))
    assert response.status_code == 302
    request = TaskRun.objects.get(task="rec")
    assert (request.status, request.trigger, request.requested_by) == (
        Status.QUEUED,
        Trigger.ADMIN,
        "operator",
    )
    assert not read_records(records_file)  # the web request ran nothing
    worker = processes.worker(tasks, redis_broker)
    clock = processes.clock(tasks, **redis_broker)
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=request.pk, status=Status.SUCCEEDED).first(),
        timeout=30,
        what="the requested run to succeed",
    )
    assert (run.executor, run.dispatches, run.on_tick) == ("celery", 1, False)
    (start,) = [r for r in read_records(records_file) if r["event"] == "start"]
    assert start["run"] == run.pk
    assert host_pid(run) == start["pid"]
    assert f"claimed rec (admin request #{run.pk}) for celery" in clock.output()
    assert f"started rec run #{run.pk} in pid {start['pid']}" in worker.output()
    for proc in (clock, worker):
        proc.signal(signal.SIGTERM)
    assert clock.wait(25) == 0
    assert worker.wait(25) == 0


def test_request_run_args_reach_the_command_on_a_worker_and_a_second_request_waits(
    processes: Processes, records_file: Path, redis_broker: dict[str, str]
) -> None:
    from core.scheduling import request_run

    entry = record_task(records_file, schedule=NEVER, sleep=1, tag="declared")
    tasks = {"rec": entry}
    worker_a = processes.worker(tasks, redis_broker, name="a")
    worker_b = processes.worker(tasks, redis_broker, name="b")
    clock = processes.clock(tasks, **redis_broker)
    args = ["--file", str(records_file), "--sleep", "1", "--tag", "from-code"]
    with override_settings(SCHEDULED_TASKS=tasks):
        with_args = request_run("rec", args, requested_by="a script")
        declared = request_run("rec")  # overlap="forbid": it waits for the first
    assert with_args.args == args
    assert declared.args is None
    wait_for(
        lambda: TaskRun.objects.filter(task="rec", status=Status.SUCCEEDED).count() == 2,
        timeout=40,
        what="both requests to be executed",
    )
    for proc in (clock, worker_a, worker_b):
        proc.signal(signal.SIGTERM)
    for proc in (clock, worker_a, worker_b):
        assert proc.wait(25) == 0
    starts = {r["run"]: r for r in read_records(records_file) if r["event"] == "start"}
    assert starts[with_args.pk]["tag"] == "from-code"
    assert starts[declared.pk]["tag"] == "declared"
    with_args.refresh_from_db()
    assert (with_args.args, with_args.requested_by) == (args, "a script")
    assert_one_at_a_time(records_file, "rec")
    assert not TaskRun.objects.exclude(status=Status.SUCCEEDED).exists()  # none was skipped
