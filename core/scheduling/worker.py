"""The Celery side of the ``celery`` executor: ``core.scheduling.execute_run(run_id)``.

A clock or ``runtasks`` claims a run in the database (``queued`` for
``celery``) and publishes its id. A worker process receiving the message
starts the run only by winning the conditional UPDATE ``queued -> running``:
Celery delivers at least once, so a duplicate, late or replayed message finds
the run running or finished, logs, and does nothing else. Then the command
runs in a supervised child exactly as under ``fork``: the same
:class:`~core.scheduling.supervisor.Supervisor` heartbeats it, fences its lease,
enforces its timeout, keeps its output's tail and records how it ended, with
``host`` the worker's dyno and the child's pid.

Messages are acknowledged early (Celery's default, kept on purpose): crash
recovery is the reaper's job, not Celery's redelivery. A worker SIGKILLed
mid-run leaves a ``running`` row whose heartbeat stops; any clock reaps it as
``abandoned`` within ``SCHEDULED_TASKS_STALE_AFTER`` and the task's policy
(retries, the next tick) decides what runs next. A redelivered message could
only arrive after that (Redis redelivers unacknowledged messages after an
hour), find the run finished and do nothing, so late acknowledgement would
buy nothing but duplicates to ignore.

Shutdown: Heroku sends SIGTERM to every process of a dyno and SIGKILL 30 s
later. Celery's warm shutdown waits for running tasks, so the pool process
running a run catches SIGTERM itself (the worker's main process forwards it,
for a SIGTERM sent to it alone), interrupts its child (SIGTERM, SIGKILL after
``SCHEDULED_TASKS_SHUTDOWN_GRACE``), records the run ``interrupted`` and
returns; the worker then exits 0. A message received while shutting down is
not started: its row is handed back (unsent), so the next clock step sends it
to a worker that is not stopping. The SIGTERM stops the run, not the pool
process: ``celery control revoke --terminate`` signals a pool process alone,
and that process then takes the next task as usual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from types import FrameType
from typing import Any

from celery.signals import worker_shutting_down
from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models.functions import Now
from django.utils import timezone

from core.models import Status, TaskRun
from core.scheduling.config import TaskSpec, get_tasks
from core.scheduling.executors.dispatch import hand_back, handed_on
from core.scheduling.executors.fork import ForkExecutor
from core.scheduling.runs import host_name, notify_finished
from core.scheduling.supervisor import Child, Supervisor
from spojscore.celery import app

log = logging.getLogger("core.scheduling")

EXECUTOR = "celery"

# Set by SIGTERM in a pool process while it executes a run: interrupt that run.
# Cleared once the run is recorded: the SIGTERM was for the run (the worker's
# warm shutdown, or ``control revoke --terminate``, which signals the pool
# process alone and expects it to take the next task).
_stopping = False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM while a run executes here (installed for the run's length only).

    Outside a run, billiard's own handler stays: an idle pool process just exits.
    """
    global _stopping
    _stopping = True  # the supervision loop notices at once (the wake-up fd)


@worker_shutting_down.connect
def _forward_shutdown(sig: str = "", how: str = "", **_: Any) -> None:
    """In the worker's main process: pass a warm shutdown on to the pool processes.

    Heroku signals every process of the dyno itself; this covers a SIGTERM
    sent to the main process alone (``kill PID``, a process manager).
    """
    if how != "Warm":
        return
    from billiard.process import active_children

    for child in active_children():
        if child.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)


def _echo(child: Child, line: str) -> None:
    log.info("[%s #%s] %s", child.task, child.run_id, line)


def claim(run_id: int) -> tuple[TaskRun, TaskSpec] | None:
    """Win ``queued -> running`` for ``run_id``, or say (in the log) why not."""
    run = TaskRun.objects.filter(pk=run_id).first()
    if run is None:
        log.warning("execute_run(%s): no such run; message ignored", run_id)
        return None
    if run.status != Status.QUEUED or run.executor != EXECUTOR:
        log.info(
            "execute_run(%s): %s run is %s; duplicate or late message ignored",
            run_id,
            run.task,
            run.status,
        )
        return None
    spec = get_tasks().get(run.task)
    if spec is None:
        failed = TaskRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            error=f"task {run.task!r} is not declared in this worker's SCHEDULED_TASKS",
        )
        log.error("execute_run(%s): task %r is not declared here", run_id, run.task)
        if failed:
            notify_finished(run_id)  # a failure like any other: it counts for the streak mail
        return None
    mine = handed_on().filter(pk=run_id, executor=EXECUTOR)
    try:
        with transaction.atomic():
            won = mine.update(status=Status.RUNNING, heartbeat_at=Now(), host=host_name())
    except IntegrityError:
        # overlap="forbid": the task is running elsewhere (the partial unique index).
        if run.on_tick:
            mine.update(
                status=Status.SKIPPED,
                finished_at=timezone.now(),
                error="the previous run was still running (overlap='forbid')",
            )
            log.info("skipped %s run #%s: still running", run.task, run_id)
        else:
            # A request waits for the task to be free: back to the clocks, which claim it then.
            mine.update(executor="", dispatched_at=None)
            log.info("%s run #%s waits: the task is running", run.task, run_id)
        return None
    if not won:
        log.info("execute_run(%s): another worker started it; message ignored", run_id)
        return None
    run.status = Status.RUNNING
    return run, spec


def supervise(run: TaskRun, spec: TaskSpec) -> str:
    """Run the claimed ``run`` in a supervised child until it ends; return its status."""
    supervisor = Supervisor(echo=_echo, stopping=lambda: _stopping)
    supervisor.install_wakeup()
    grace = float(settings.SCHEDULED_TASKS_SHUTDOWN_GRACE)
    status: str = Status.RUNNING
    try:
        args = spec.args if run.args is None else run.args
        failure = ForkExecutor().start(supervisor, spec, run, args)
        if failure is not None:
            return failure.status
        interrupted = False
        while supervisor.children:
            if _stopping and not interrupted:
                log.info("worker stopping: interrupting %s run #%s", run.task, run.pk)
                supervisor.interrupt_all(grace)
                interrupted = True
            for outcome in supervisor.wait(supervisor.next_wakeup()):
                status = outcome.status
        for outcome in supervisor.tend():
            status = outcome.status
        supervisor.finish(until=time.monotonic() + 5)
    finally:
        supervisor.close()
    return status


@app.task(name="core.scheduling.execute_run", ignore_result=True, acks_late=False)
def execute_run(run_id: int) -> str | None:
    """Start run ``run_id`` if this message wins it; supervise it to its end.

    Returns the run's final status, or None when the message was ignored.
    """
    # Installed before the claim: a SIGTERM from then on is recorded, not a lost run.
    previous = _swap_sigterm()
    try:
        close_old_connections()
        if _stopping:
            # SIGTERM before the claim: not ours to start. Handed back (unsent),
            # so the next clock step sends it again, to a worker that is not stopping.
            hand_back(run_id, "the worker that received it was stopping")
            log.info("execute_run(%s): worker stopping; left for another worker", run_id)
            return None
        claimed = claim(run_id)
        if claimed is None:
            return None
        return supervise(*claimed)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        _clear_stopping()
        close_old_connections()


def _clear_stopping() -> None:
    global _stopping
    _stopping = False


def _swap_sigterm() -> Any:
    """Install the SIGTERM handler if this is the main thread; the previous one, or None.

    (The prefork pool runs tasks on its processes' main threads; the threads pool does not.)
    """
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        return None
