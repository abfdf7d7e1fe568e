"""Guarantee 4 with real SIGKILLs: a dead clock's run is reaped as ``abandoned``
and frees the task; a task child killed from outside is recorded by its clock;
the kernel kills a dead clock's child (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from core.models import Status, TaskRun
from tests.processes import Proc, Processes, process_alive, record_task, started_run, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def host_pid(run: TaskRun) -> int:
    """The pid the child stamped in ``host`` ("host:pid")."""
    return int(run.host.rsplit(":", 1)[1])


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def owner(clocks: list[Proc], run: TaskRun) -> Proc:
    ppid = parent_pid(host_pid(run))
    return next(clock for clock in clocks if clock.pid == ppid)


def test_a_killed_clocks_run_is_abandoned_and_its_task_runs_again_elsewhere(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"slow": record_task(records_file, every=2, sleep=4)}
    clocks = [processes.clock(tasks, name=f"clock{i}") for i in range(2)]
    run = started_run("slow")
    child = host_pid(run)
    victim = owner(clocks, run)
    survivor = next(clock for clock in clocks if clock is not victim)

    victim.signal(signal.SIGKILL)
    victim.wait(10)
    # PR_SET_PDEATHSIG: the kernel kills the orphaned task child too.
    wait_for(lambda: not process_alive(child), timeout=10, what=f"child {child} to die")

    # STALE_AFTER is 3 s: the surviving clock reaps the row.
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status=Status.ABANDONED).first(),
        timeout=20,
        what="the killed run to be marked abandoned",
    )
    assert "no heartbeat" in run.error
    # The task is free again: a later tick starts, in the surviving clock.
    later = wait_for(
        lambda: TaskRun.objects.filter(
            task="slow", scheduled_for__gt=run.scheduled_for, started_at__isnull=False
        ).first(),
        timeout=20,
        what="a later tick of the task to start",
    )
    assert parent_pid(host_pid(later)) == survivor.pid
    survivor.signal(signal.SIGTERM)
    assert survivor.wait(25) == 0
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()


def test_a_later_runtasks_reaps_the_run_of_a_killed_clock(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"slow": record_task(records_file, every=2, sleep=1)}
    clock = processes.clock(tasks)
    run = started_run("slow")
    clock.signal(signal.SIGKILL)
    clock.wait(10)
    wait_for(lambda: not process_alive(host_pid(run)), timeout=10, what="the child to die")
    assert TaskRun.objects.get(pk=run.pk).status == Status.RUNNING  # nobody has noticed yet

    def reaped() -> bool:
        code, output = processes.manage(["runtasks"], tasks)
        assert code == 0, output
        return TaskRun.objects.get(pk=run.pk).status == Status.ABANDONED

    wait_for(reaped, timeout=30, interval=0.5, what="runtasks to reap the stale run")
    # Ticks that came while the row looked alive were skipped; the task is now
    # free and the next runtasks past a tick runs it.
    later = TaskRun.objects.filter(task="slow", scheduled_for__gt=run.scheduled_for)

    def ran_again() -> bool:
        code, output = processes.manage(["runtasks"], tasks)
        assert code == 0, output
        return later.filter(status=Status.SUCCEEDED).exists()

    wait_for(ran_again, timeout=30, interval=0.5, what="runtasks to run a later tick")
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()


def test_a_task_child_killed_from_outside_is_recorded_abandoned_by_its_clock(
    processes: Processes, records_file: Path
) -> None:
    tasks = {"slow": record_task(records_file, every=2, sleep=30)}
    clock = processes.clock(tasks)
    run = started_run("slow")
    child = host_pid(run)
    assert parent_pid(child) == clock.pid
    os.kill(child, signal.SIGKILL)
    run = wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status=Status.ABANDONED).first(),
        timeout=10,
        what="the killed child's run to be recorded",
    )
    assert run.exit_code == -signal.SIGKILL
    assert "killed by SIGKILL" in run.error
    # Its own clock recorded it (no stale-heartbeat reaping involved), and the
    # task is free for its next tick.
    wait_for(
        lambda: TaskRun.objects.filter(
            task="slow", scheduled_for__gt=run.scheduled_for, started_at__isnull=False
        ).exists(),
        timeout=15,
        what="the next tick to start",
    )
    assert clock.popen.poll() is None  # the clock itself is unharmed
    clock.signal(signal.SIGTERM)
    assert clock.wait(25) == 0
    assert not TaskRun.objects.filter(status=Status.RUNNING).exists()
